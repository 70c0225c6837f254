"""Seconds per model, per star and per 11-point barrier pair on the default experiment's settings
(MLP 784-128-128-128-10, `--depth 3`; `--depth 1` for the one-hidden-layer MLP).

Reference on 2 CPU cores (MLP 784-128-10, 10 epochs, 54k train / 10k test): about 3 s per model,
4 s per star, 0.6 s per 11-point pair barrier (one alignment, train and test splits).
Measured here on one thread of a 2-core Xeon with `--depth 1`: 4.5 s per model, 5.6 s per star, 0.44 s per barrier.
"""

import argparse
import time

import torch

from starlight.align import align
from starlight.data import DATASETS, load_dataset, make_splits
from starlight.measure.barrier import barriers_from_curve, curve, grid
from starlight.models import build_model
from starlight.pipeline.runtime import configure, seed_everything
from starlight.training.loop import train_classifier
from starlight.training.star import train_star

TRAIN = {"epochs": 10, "batch_size": 128, "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
         "schedule": "cosine"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--depth", type=int, default=3, help="hidden layers of the MLP (width 128)")
    args = parser.parse_args()
    configure(1)
    device = torch.device(args.device)
    splits = make_splits(load_dataset("fashion_mnist"), DATASETS["fashion_mnist"].spec, val_size=6000, split_seed=0).to(device)
    cfg, train = {"name": "mlp", "depth": args.depth, "width": 128}, {**TRAIN, "epochs": args.epochs}
    rows = []
    models = []
    for seed in range(2):
        seed_everything(seed)
        model = build_model(cfg).to(device)
        t0 = time.perf_counter()
        train_classifier(f"anchor-{seed}", model, splits.train, train, seed)
        rows.append(("model", time.perf_counter() - t0))
        models.append(model)
    seed_everything(100)
    star = build_model(cfg).to(device)
    t0 = time.perf_counter()
    train_star("star", star, [m.state_dict() for m in models], splits.train, train, 100)
    rows.append(("star", time.perf_counter() - t0))
    t0 = time.perf_counter()
    aligned = align(models[0], models[1], splits.train.head(256))
    points = curve(models[0], aligned, {"train": splits.train, "test": splits.test}, grid(11))
    barriers_from_curve(points)
    rows.append(("barrier", time.perf_counter() - t0))
    print(f"{'what':<10}{'seconds':>10}")
    for what, sec in rows:
        print(f"{what:<10}{sec:>10.2f}")


if __name__ == "__main__":
    main()
