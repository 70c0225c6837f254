"""Target 4: one training epoch on in-memory data costs close to a pure compute loop over the same batches.

Numerator: one epoch of the pipeline's training loop (`starlight.training.loop.train_classifier`, one epoch): shuffling,
on-device augmentation where the dataset has it (`ImageSet.epoch`: uint8 gather, crop + flip, normalisation), the
SGD step, the schedule and the epoch's loss and accuracy sums. Denominator: the same model and optimizer settings
stepping (`starlight.training.loop.sgd_step`) over the same epoch's batches made beforehand: float, normalised, augmented,
shaped as the model takes them. Timed interleaved in one process (benchmarks/harness.py). Target: ≤ 1.10.

- mlp: the default experiment's model (784-128-128-128-10) on Fashion-MNIST's training split (54,000 images,
  from disk when it is there, else synthetic images of its shape), no augmentation (Fashion-MNIST has none);
- mlp1: the same with one hidden layer (784-128-10, the default's model until the default grew deeper), the
  smallest step in the zoo, where the loop's own per-step work shows most;
- resnet18_cifar at width 1/4 on synthetic CIFAR-10-shaped uint8 images with crop (padding 4) + flip; on the CPU
  a few batches stand for the epoch (`--images`), on a GPU 50,000 images.

    .venv/bin/python benchmarks/data_path.py
    .venv/bin/python benchmarks/data_path.py --device cuda --model resnet18_cifar --width-multiplier 1
"""

from __future__ import annotations

import random

import torch
from harness import clock_of, header, interleaved, paired_ratio, parser, result_line, setup, table

from starlight.data import DATASETS, Augment, DataError, ImageSet, load_dataset, make_splits
from starlight.models import build_model
from starlight.training.loop import sgd_step, train_classifier
from starlight.training.optim import make_optimizer, training_loss

TRAIN = {"epochs": 1, "batch_size": 128, "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
         "schedule": "cosine", "warmup_steps": 0}
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
# name: (model section, data, images on the CPU, images on a GPU, repetitions)
MODELS = {
    "mlp": ({"name": "mlp", "depth": 3, "width": 128}, "fashion_mnist", None, None, 7),
    "mlp1": ({"name": "mlp", "depth": 1, "width": 128}, "fashion_mnist", None, None, 7),
    "resnet18_cifar": ({"name": "resnet18_cifar", "width_multiplier": 0.25}, "cifar_shaped", 1024, 50000, 5),
}
TARGET = 1.10


def fashion_mnist_train() -> ImageSet:
    """The default experiment's training split, or synthetic images of its shape where the files are absent."""
    spec = DATASETS["fashion_mnist"].spec
    try:
        return make_splits(load_dataset("fashion_mnist"), spec, val_size=6000, split_seed=0).train
    except DataError:
        g = torch.Generator().manual_seed(0)
        return ImageSet(torch.randint(0, 256, (54000, 1, 28, 28), generator=g, dtype=torch.uint8),
                        torch.randint(0, 10, (54000,), generator=g), spec.mean, spec.std)


def cifar_shaped(n: int) -> ImageSet:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    return ImageSet(images, torch.randint(0, 10, (n,), generator=g), CIFAR_MEAN, CIFAR_STD, Augment(4, True))


# data: images -> ImageSet (Fashion-MNIST is always its whole training split)
DATA = {"fashion_mnist": lambda _images: fashion_mnist_train(), "cifar_shaped": cifar_shaped}


def candidates(name: str, args, device: torch.device) -> dict:
    model_cfg, data_name, cpu_images, gpu_images, _ = MODELS[name]
    if args.width_multiplier is not None and "width_multiplier" in model_cfg:
        model_cfg = {**model_cfg, "width_multiplier": args.width_multiplier}
    n = args.images or (gpu_images if device.type == "cuda" else cpu_images)
    data = DATA[data_name](n).to(device)
    torch.manual_seed(0)
    shape = tuple(data.images.shape[1:])
    model = build_model(model_cfg, shape).to(device)
    cfg = {**TRAIN, "batch_size": args.batch_size}
    shaped = list(data.epoch(cfg["batch_size"], seed=0, epoch=0))  # the same batches, made beforehand
    print(f"\n## {name}: {len(data)} images, {len(shaped)} batches of {cfg['batch_size']}, "
          f"augmentation {data.augment or 'none'}")
    params = list(model.parameters())
    rng = random.Random(0)

    def loss_fn(x, y, _rng):
        logits = model(x)
        return training_loss(logits, y), logits

    def epoch():
        train_classifier(name, model, data, cfg, seed=0, checkpoint_every=0)

    def compute_only():
        opt = make_optimizer(params, cfg)
        model.train()
        for x, y in shaped:
            sgd_step(loss_fn, x, y, rng, opt, params, cfg)

    return {"training epoch": epoch, "compute only": compute_only}


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--model", choices=list(MODELS), action="append", help="repeatable (default: all)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--images", type=int, default=None, help="resnet18_cifar's epoch (default 1,024 CPU, 50,000 GPU)")
    p.add_argument("--width-multiplier", type=float, default=None, help="for resnet18_cifar (default 1/4)")
    args = p.parse_args()
    device = setup(args)
    header(args, "one training epoch (shuffle, augment, normalise, step) ÷ the steps alone over the same batches")
    lines = []
    for name in args.model or list(MODELS):
        times = interleaved(candidates(name, args, device), args.reps or MODELS[name][4], device, warmup=1,
                            clock=clock_of(args))
        print(table(times, "s", 1.0))
        lines.append(result_line(f"data_path/{name}", paired_ratio(times, "training epoch", "compute only"), TARGET))
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
