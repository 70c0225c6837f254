"""Measured seconds per training epoch of the paper configs' workloads: the table paper_costs.py --measured reads.

    .venv/bin/python benchmarks/paper_costs.py --template epochs.csv         # the workloads (any machine)
    .venv/bin/python benchmarks/paper_epochs.py epochs.csv --device cuda     # measure them (a GPU machine)
    .venv/bin/python benchmarks/paper_costs.py --measured epochs.csv --update-headers

Each row of the table (`model, dataset, batch_size, seconds_per_epoch, eval_images_per_s, train_images`) is
measured in place: its model is built as the configs build it and trained by the pipeline's own training loop
(`starlight.training.loop.train_classifier`: shuffling, on-device crop + flip, SGD, schedule) on synthetic uint8 images of
the dataset's shape, for `--steps` steps after `--warmup` steps that are not timed; seconds per epoch = seconds
per step x the steps of an epoch of `train_images` images. Evaluation is timed on `--eval-images` images in eval
mode, batches of 1000. ImageNet is timed on images in memory: decoding JPEGs in the DataLoader workers is not in
its numbers. Rows whose model does not fit `--only` keep their values.
"""

from __future__ import annotations

import csv
import math
import time

import torch
from harness import header, parser, setup, sync

from starlight.data import DATASETS, Augment, ImageSet
from starlight.models import MODEL_KEYS, build_model
from starlight.training.loop import train_classifier

TRAIN = {"lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4, "schedule": "cosine"}


def parse_label(label: str) -> dict:
    """The model section a label of paper_timing.model_label stands for: `wrn(depth=22,widen_factor=8)`."""
    name, _, rest = label.partition("(")
    cfg = {"name": name}
    for item in filter(None, rest.rstrip(")").split(",")):
        key, value = item.split("=", 1)
        default = MODEL_KEYS[name][key]
        kind = bool if isinstance(default, bool) else float if isinstance(default, float) else int
        cfg[key] = value == "True" if kind is bool else kind(value)
    return cfg


def synthetic(dataset: str, n: int, device: torch.device) -> ImageSet:
    spec = DATASETS[dataset].spec
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, *spec.shape), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, spec.n_classes, (n,), generator=g)
    return ImageSet(images, labels, spec.mean, spec.std, Augment.from_config({}, spec.augment)).to(device)


def measure(row: dict, steps: int, warmup: int, eval_images: int, device: torch.device) -> tuple[float, float]:
    """(seconds per epoch, evaluated images per second) of one row."""
    spec, batch = DATASETS[row["dataset"]].spec, int(row["batch_size"])
    model = build_model(parse_label(row["model"]), spec.shape, spec.n_classes).to(device)
    data = synthetic(row["dataset"], batch * max(steps, warmup), device)
    cfg = {**TRAIN, "batch_size": batch, "epochs": 1}
    warm = ImageSet(data.images[:batch * warmup], data.labels[:batch * warmup], data.mean, data.std, data.augment)
    train_classifier("warm-up", model, warm, cfg, seed=0)
    timed = ImageSet(data.images[:batch * steps], data.labels[:batch * steps], data.mean, data.std, data.augment)
    sync(device)
    t0 = time.perf_counter()
    train_classifier("timed", model, timed, cfg, seed=1)
    sync(device)
    per_step = (time.perf_counter() - t0) / steps
    n_train = int(row.get("train_images") or spec.train_size - spec.val_size)
    model.eval()
    x = data.normalise(data.images[:min(1000, len(data))])
    passes = max(1, eval_images // len(x))
    with torch.no_grad():
        model(x)
        sync(device)
        t0 = time.perf_counter()
        for _ in range(passes):
            model(x)
        sync(device)
    return per_step * math.ceil(n_train / batch), passes * len(x) / (time.perf_counter() - t0)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("table", help="the CSV to fill in (paper_costs.py --template writes it)")
    p.add_argument("--steps", type=int, default=50, help="timed training steps per row")
    p.add_argument("--warmup", type=int, default=5, help="untimed training steps per row")
    p.add_argument("--eval-images", type=int, default=20000, help="images evaluated per row")
    p.add_argument("--only", action="append", help="measure only rows whose model label starts with this")
    args = p.parse_args()
    device = setup(args)
    args.clock = "wall"  # what measure() times
    header(args, f"seconds per epoch of the rows of {args.table}")
    with open(args.table, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if args.only and not any(row["model"].startswith(o) for o in args.only):
            continue
        epoch_s, eval_rate = measure(row, args.steps, args.warmup, args.eval_images, device)
        row["seconds_per_epoch"], row["eval_images_per_s"] = f"{epoch_s:.2f}", f"{eval_rate:.0f}"
        print(f"{row['model']:<32}{row['dataset']:<10}{row['batch_size']:>6}{epoch_s:>10.2f} s/epoch"
              f"{eval_rate:>10.0f} eval images/s", flush=True)
    with open(args.table, "w", newline="") as f:
        out = csv.DictWriter(f, fieldnames=list(rows[0]))
        out.writeheader()
        out.writerows(rows)
    print(f"wrote {args.table}")


if __name__ == "__main__":
    main()
