"""Images per second of one training epoch with the GPU speed options off and on (starlight/training/speed.py).

Trains `resnet18_cifar` (full width on a GPU) on synthetic CIFAR-10-shaped data (50,000 uint8 images, batches of
128, the training loop of the pipeline: shuffling, normalisation, SGD, schedule) once per option set. Each set
first trains on a few batches (with a ragged last one, as the epoch has) so that `torch.compile`'s compilation
and cuDNN's first calls are not timed; the table gives the compile time apart.

    .venv/bin/python benchmarks/epoch.py --device cuda
    .venv/bin/python benchmarks/epoch.py --images 600                             # a CPU check of the path

Prints one line per option set: `epoch/<options>: images_per_s=X speedup=Y`.
"""

from __future__ import annotations

import time

import torch
from harness import header, parser, setup, sync

from starlight.data import ImageSet
from starlight.models import build_model
from starlight.training.loop import train_classifier

TRAIN = {"epochs": 1, "batch_size": 128, "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
         "schedule": "cosine", "warmup_steps": 0}
OPTION_SETS = {
    "off": {},
    "bf16": {"precision": "bf16"},
    "channels_last": {"channels_last": True},
    "bf16+channels_last": {"precision": "bf16", "channels_last": True},
    "all (+compile)": {"precision": "bf16", "channels_last": True, "compile": True},
}
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def synthetic(n: int, device: torch.device) -> ImageSet:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    return ImageSet(images, torch.randint(0, 10, (n,), generator=g), CIFAR_MEAN, CIFAR_STD).to(device)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--images", type=int, default=50000)
    p.add_argument("--width-multiplier", type=float, default=None, help="default: 1 on a GPU, 1/8 on the CPU")
    p.add_argument("--options", choices=list(OPTION_SETS), action="append", help="repeatable (default: all)")
    args = p.parse_args()
    device = setup(args)
    width = args.width_multiplier or (1.0 if device.type == "cuda" else 0.125)
    header(args, f"one epoch of resnet18_cifar (width {width}) on {args.images} synthetic CIFAR images")
    data = synthetic(args.images, device)
    batch = TRAIN["batch_size"]
    warm_n = 4 * batch + (args.images % batch or batch)  # the epoch's last batch size too (compile specialises)
    warm = ImageSet(data.images[:warm_n], data.labels[:warm_n], data.mean, data.std)
    rows, lines, baseline = [], [], None
    for name in args.options or list(OPTION_SETS):
        cfg = {**TRAIN, **OPTION_SETS[name]}
        torch.manual_seed(0)
        model = build_model({"name": "resnet18_cifar", "width_multiplier": width}, (3, 32, 32)).to(device)
        t0 = time.perf_counter()
        train_classifier("warm-up", model, warm, cfg, seed=0)
        sync(device)
        warm_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        history = train_classifier(name, model, data, cfg, seed=1)
        sync(device)
        seconds = time.perf_counter() - t0
        rate = args.images / seconds
        baseline = baseline or rate
        rows.append((name, warm_s, seconds, rate, rate / baseline, history[-1]["loss"]))
        lines.append(f"epoch/{name.replace(' ', '')}: images_per_s={rate:.0f} speedup={rate / baseline:.2f}")
    print(f"\n{'options':<22}{'warm-up s':>11}{'epoch s':>10}{'images/s':>11}{'speed-up':>10}{'loss':>9}")
    for name, warm_s, seconds, rate, speedup, loss in rows:
        print(f"{name:<22}{warm_s:>11.1f}{seconds:>10.2f}{rate:>11.0f}{speedup:>10.2f}{loss:>9.4f}")
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
