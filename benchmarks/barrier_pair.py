"""Target 2: the barrier curve of one pair costs close to evaluating one model once per grid point.

Numerator: `starlight.measure.barrier.curve` of one pair, every grid point on the train and test splits, BN statistics
re-estimated at every point (models with BN). Denominator: grid points × one forward pass of one model over the
same evaluation data in the same batches (`starlight.measure.metrics.evaluate_many`). Timed interleaved in one process
(benchmarks/harness.py). Target: ≤ 1.2 for the MLP, the BN CNN and resnet18_cifar at width 1/4.

The data are synthetic images of the dataset's shape. On the CPU the evaluation splits of the convolutional
models are cut down so that a run takes minutes, keeping the proportion of BN images to evaluated images of a
real run (2,000 BN images for 54,000 + 10,000 evaluated: 1/32); the MLP uses Fashion-MNIST's real sizes.
`--train-size/--test-size/--bn-size` override them (the GPU run uses CIFAR-10's: 50,000 + 10,000 and 2,000).

    .venv/bin/python benchmarks/barrier_pair.py
    .venv/bin/python benchmarks/barrier_pair.py --device cuda --model resnet18_cifar --width-multiplier 1 \\
        --train-size 50000 --test-size 10000 --bn-size 2000
"""

from __future__ import annotations

import torch
from harness import clock_of, header, interleaved, paired_ratio, parser, result_line, setup, table

from starlight.data import ImageSet
from starlight.measure.barrier import curve, grid
from starlight.measure.metrics import evaluate_many
from starlight.models import build_model, has_batchnorm

# name: (model section, input shape, (train, test, BN images) on the CPU)
MODELS = {
    "mlp": ({"name": "mlp", "depth": 3, "width": 128}, (1, 28, 28), (54000, 10000, 0)),
    "cnn": ({"name": "cnn", "depth": 3, "width": 32, "batchnorm": True}, (1, 28, 28), (384, 128, 16)),
    "resnet18_cifar": ({"name": "resnet18_cifar", "width_multiplier": 0.25}, (3, 32, 32), (192, 64, 8)),
}
REPS = {"mlp": 5, "cnn": 3, "resnet18_cifar": 3}
TARGET = 1.2


def synthetic(n: int, shape: tuple[int, ...], device: torch.device, seed: int) -> ImageSet:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, *shape), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 10, (n,), generator=g)
    return ImageSet(images, labels, (0.5,) * shape[0], (0.25,) * shape[0]).to(device)


def pair(name: str, args, device: torch.device) -> dict:
    model_cfg, shape, sizes = MODELS[name]
    if args.width_multiplier is not None and "width_multiplier" in model_cfg:
        model_cfg = {**model_cfg, "width_multiplier": args.width_multiplier}
    n_train = args.train_size or sizes[0]
    n_test = args.test_size or sizes[1]
    torch.manual_seed(0)
    model1, model2 = (build_model(model_cfg, shape).to(device).eval() for _ in range(2))
    splits = {"train": synthetic(n_train, shape, device, 1), "test": synthetic(n_test, shape, device, 2)}
    bn_x = None
    if has_batchnorm(model1):
        bn_x = synthetic(args.bn_size or sizes[2], shape, device, 3).normalised()
    ts = grid(args.grid_points)
    print(f"\n## {name}: {n_train} + {n_test} images evaluated, "
          f"{0 if bn_x is None else bn_x.shape[0]} BN images, {len(ts)} grid points")

    def barrier_curve():
        curve(model1, model2, splits, ts, bn_x, args.batch_size)

    def one_forward():
        for data in splits.values():
            evaluate_many(lambda xb: (model1(xb),), data, args.batch_size)

    # warm-up on one batch of each split (a full call per candidate would double the run)
    small = {k: ImageSet(v.images[:args.batch_size], v.labels[:args.batch_size], v.mean, v.std)
             for k, v in splits.items()}
    curve(model1, model2, small, ts, bn_x, args.batch_size)
    times = interleaved({"curve": barrier_curve, "one forward pass": one_forward}, args.reps or REPS[name], device,
                        warmup=0, clock=clock_of(args))
    print(table(times, "s", 1.0))
    return {"times": times, "points": len(ts)}


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--model", choices=list(MODELS), action="append", help="repeatable (default: all)")
    p.add_argument("--grid-points", type=int, default=11)
    p.add_argument("--batch-size", type=int, default=1000, help="evaluation batch (the barrier job's)")
    p.add_argument("--train-size", type=int, default=None)
    p.add_argument("--test-size", type=int, default=None)
    p.add_argument("--bn-size", type=int, default=None)
    p.add_argument("--width-multiplier", type=float, default=None, help="for resnet18_cifar (default 1/4)")
    args = p.parse_args()
    device = setup(args)
    header(args, "one pair's barrier curve ÷ (grid points × one forward pass over the same data)")
    lines = []
    for name in args.model or list(MODELS):
        out = pair(name, args, device)
        ratio = paired_ratio(out["times"], "curve", "one forward pass", scale=out["points"])
        lines.append(result_line(f"barrier_pair/{name}", ratio, TARGET))
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
