"""How far barriers measured with BN statistics from the BN subset are from those of a full-training-set recompute.

Trains two BN models on Fashion-MNIST (the default experiment's data and split), aligns the second onto the first
as the barrier job does, and measures the curve twice: BN statistics re-estimated at every point on the config's
`bn.subset` images (2,000, drawn with `bn.seed` 0: the default) and on the whole training split (54,000 images). Prints
the four barriers and the endpoint losses both ways and their largest difference. Not a speed target: it tells
whether the subset is large enough.

    .venv/bin/python benchmarks/bn_subset.py                       # MLP 784-128-128-10 with BN
    .venv/bin/python benchmarks/bn_subset.py --model cnn --epochs 2
"""

from __future__ import annotations

import time

import torch
from harness import header, parser, setup

from starlight.align import align
from starlight.data import DATASETS, load_dataset, make_splits
from starlight.measure.barrier import barriers_from_curve, curve, grid
from starlight.measure.bn import bn_subset, recompute_bn_stats
from starlight.models import build_model
from starlight.training.loop import train_classifier

MODELS = {
    "mlp_bn": {"name": "mlp", "depth": 2, "width": 128, "batchnorm": True},
    "cnn": {"name": "cnn", "depth": 2, "width": 16, "batchnorm": True},
}
TRAIN = {"epochs": 3, "batch_size": 128, "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
         "schedule": "cosine"}


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--model", choices=list(MODELS), default="mlp_bn")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--bn-subset", type=int, default=2000, help="the config's bn.subset")
    p.add_argument("--bn-seed", type=int, default=0, help="the config's bn.seed")
    args = p.parse_args()
    device = setup(args)
    header(args, f"barriers with BN statistics from {args.bn_subset} images vs the whole training split")
    splits = make_splits(load_dataset("fashion_mnist"), DATASETS["fashion_mnist"].spec, val_size=6000,
                         split_seed=0).to(device)
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = build_model(MODELS[args.model]).to(device)
        train_classifier(f"{args.model}-{seed}", model, splits.train, {**TRAIN, "epochs": args.epochs}, seed)
        models.append(recompute_bn_stats(model, bn_subset(splits.train, args.bn_subset, args.bn_seed)))
    aligned = align(models[0], models[1], splits.train.head(256), seed=0)
    eval_sets = {"train": splits.train, "test": splits.test}
    ts = grid(11)
    results = {}
    for label, bn_x in (("subset", bn_subset(splits.train, args.bn_subset, args.bn_seed)),
                        ("full", splits.train.normalised())):
        t0 = time.perf_counter()
        rows = curve(models[0], aligned, eval_sets, ts, bn_x)
        out = barriers_from_curve(rows)
        out |= {f"{r['split']}_loss_at_{r['t']:g}": r["loss"] for r in rows if r["t"] in (0.0, 1.0)}
        results[label] = out
        print(f"# {label}: {bn_x.shape[0]} BN images, curve in {time.perf_counter() - t0:.1f}s")
    print(f"\n{'quantity':<24}{'subset':>12}{'full':>12}{'difference':>12}")
    for key in results["subset"]:
        a, b = results["subset"][key], results["full"][key]
        print(f"{key:<24}{a:>12.5f}{b:>12.5f}{a - b:>12.5f}")
    barriers = [k for k in results["subset"] if k.endswith("barrier")]
    worst = max(abs(results["subset"][k] - results["full"][k]) for k in barriers)
    largest = max(abs(results["full"][k]) for k in barriers)
    print(f"\n# max |barrier(subset) - barrier(full)| = {worst:.5f} (largest |barrier| {largest:.5f})")
    print(f"bn_subset/{args.model}: max_abs_difference={worst:.5f} largest_barrier={largest:.5f}")


if __name__ == "__main__":
    main()
