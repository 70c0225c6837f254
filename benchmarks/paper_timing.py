"""How long a GPU takes per training step and per evaluated image: the time model behind benchmarks/paper_costs.py.

Without a GPU measurement the times come from a FLOP model, stated here once and quoted in every paper config's
header:

- a training step costs the forward + backward FLOPs of one batch, counted with
  `torch.utils.flop_counter.FlopCounterMode` on the meta device (convolutions and matrix products only), at an
  assumed sustained `TFLOPS` (20: about 13 % of an A100's 156 TFLOPS dense TF32 peak, what small-batch CIFAR
  training in float32 reaches), plus `LAYER_S` (40 µs) per layer (leaf module) for kernel launches and the
  memory-bound layers the FLOP count leaves out (BatchNorm, ReLU, DenseNet's concatenations: expect the estimate
  to be low for DenseNet), plus `STEP_S` (0.5 ms) per step for the Python of the training loop and the update;
- evaluating one image costs its forward FLOPs at the same rate, plus a third of `LAYER_S` per layer and a fifth
  of `STEP_S` per batch of `EVAL_BATCH` (1,000) images;
- a streamed dataset (ImageNet) is read no faster than `STREAM_IMAGES_PER_S` (3,000 decoded and augmented
  images per second from the job's DataLoader workers);
- a star's step costs `STAR_STEP` (1.05) plain steps (docs/speed.md: 1.0-1.1x measured on the CPU), an
  alignment `ALIGN_S` (10 s), and every GPU job `STARTUP_S` (15 s) to start and load its data.

A measured table replaces the FLOP model: a CSV with columns `model, dataset, batch_size, seconds_per_epoch`
and optionally `eval_images_per_s` and `train_images` (`paper_costs.py --template` writes one holding the
estimates; `benchmarks/paper_epochs.py` measures its rows on a GPU machine). `model` is the label `model_label`
gives (`resnet18_cifar`, `wrn(depth=22,widen_factor=8)`, `mlp(width=4)`); `seconds_per_epoch` is one training epoch
over the dataset's training split as the config sets it (`train_images`), at that batch size.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from starlight.models import build_model, example_input, model_config, model_input

TFLOPS = 20.0
LAYER_S = 40e-6
STEP_S = 0.5e-3
EVAL_BATCH = 1000
STREAM_IMAGES_PER_S = 3000.0
STAR_STEP = 1.05
ALIGN_S = 10.0
STARTUP_S = 15.0
FLOP_METHOD = (f"FLOP model (benchmarks/paper_timing.py): forward+backward FLOPs of one batch counted with "
               f"torch.utils.flop_counter.FlopCounterMode, run at an assumed {TFLOPS:g} TFLOPS sustained (about 13 % "
               f"of an A100's 156 TFLOPS dense TF32 peak), plus {LAYER_S * 1e6:g} us per layer and "
               f"{STEP_S * 1e3:g} ms per step; evaluation "
               f"at forward FLOPs / {TFLOPS:g} TFLOPS plus launch overhead per batch; ImageNet read at <= {STREAM_IMAGES_PER_S:,.0f} images/s; a star "
               f"step {STAR_STEP:g} plain steps; {ALIGN_S:g} s per alignment, {STARTUP_S:g} s start-up per job")
MEASURED_COLUMNS = ("model", "dataset", "batch_size", "seconds_per_epoch", "eval_images_per_s", "train_images")


def model_label(model_cfg: dict) -> str:
    """`name`, or `name(key=value,...)` with the keys the model reads that differ from their defaults."""
    from starlight.models import MODEL_KEYS

    cfg = model_config(model_cfg)
    defaults = MODEL_KEYS[cfg["name"]]
    keys = [f"{k}={cfg[k]:g}" if isinstance(cfg[k], float) else f"{k}={cfg[k]}"
            for k in sorted(defaults) if cfg[k] != defaults[k]]
    return f"{cfg['name']}({','.join(keys)})" if keys else cfg["name"]


@dataclass(frozen=True)
class Workload:
    """One model on one dataset: what a step and an evaluated image cost depends on."""

    model: tuple  # model_config as sorted items
    dataset: str
    shape: tuple[int, int, int]
    n_classes: int
    streamed: bool

    @property
    def label(self) -> str:
        return model_label(dict(self.model))


@dataclass(frozen=True)
class Counts:
    train_flops_per_image: float  # forward + backward
    eval_flops_per_image: float
    layers: int
    batchnorm: bool


def _built(work: Workload) -> nn.Module:
    with torch.device("meta"):
        return build_model(dict(work.model), work.shape, work.n_classes)


@cache
def counts(work: Workload, batch: int = 32) -> Counts:
    """FLOPs per image (forward+backward, forward) on the meta device: no memory, no compute."""
    model = _built(work)
    with torch.device("meta"):
        x = example_input(model_input(dict(work.model)), work.shape, batch)  # images, or token ids for text
        y = torch.zeros(batch, dtype=torch.long)
    model.train()
    train = FlopCounterMode(display=False)
    with train:
        nn.functional.cross_entropy(model(x), y).backward()
    model.eval()
    forward = FlopCounterMode(display=False)
    with forward, torch.no_grad():
        model(x)
    leaves = [m for m in model.modules() if not list(m.children())]
    bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in leaves)
    return Counts(train.get_total_flops() / batch, forward.get_total_flops() / batch, len(leaves), bn)


class FlopModel:
    """Seconds per epoch and per evaluated image from FLOP counts (see the module doc)."""

    method = FLOP_METHOD

    def __init__(self, tflops: float = TFLOPS, layer_s: float = LAYER_S, step_s: float = STEP_S,
                 stream: float = STREAM_IMAGES_PER_S):
        self.rate, self.layer_s, self.step_s, self.stream = tflops * 1e12, layer_s, step_s, stream

    def epoch_s(self, work: Workload, batch_size: int, n_images: int) -> float:
        c = counts(work)
        steps = math.ceil(n_images / batch_size)
        compute = n_images * c.train_flops_per_image / self.rate + steps * (c.layers * self.layer_s + self.step_s)
        return max(compute, n_images / self.stream) if work.streamed else compute

    def eval_s(self, work: Workload, n_images: int, passes: int = 1) -> float:
        """`passes` forward passes over `n_images` images read once (a curve evaluates every t in one pass)."""
        c = counts(work)
        batches = passes * math.ceil(n_images / EVAL_BATCH)
        compute = passes * n_images * c.eval_flops_per_image / self.rate + batches * (
            c.layers * self.layer_s / 3 + self.step_s / 5)
        return max(compute, n_images / self.stream) if work.streamed else compute

    def source(self, work: Workload, batch_size: int) -> str:
        return "flop-model"


class MeasuredModel(FlopModel):
    """Measured seconds per epoch (and images per second of evaluation) where the table has the workload, the FLOP
    model elsewhere; `source` says which produced each number."""

    def __init__(self, path: str | Path, **flop_args):
        super().__init__(**flop_args)
        self.path = Path(path)
        self.rows = {}
        with open(self.path, newline="") as f:
            for row in csv.DictReader(f):
                missing = {"model", "dataset", "batch_size", "seconds_per_epoch"} - set(row)
                if missing:
                    raise ValueError(f"{self.path}: no column {', '.join(sorted(missing))} (columns: "
                                     f"{', '.join(MEASURED_COLUMNS)})")
                key = (row["model"], row["dataset"], int(row["batch_size"]))
                self.rows[key] = (float(row["seconds_per_epoch"]), float(row.get("eval_images_per_s") or "nan"))
        self.method = f"measured seconds per epoch from {self.path} (the FLOP model where a row is missing)"

    def _row(self, work: Workload, batch_size: int):
        return self.rows.get((work.label, work.dataset, batch_size))

    def epoch_s(self, work: Workload, batch_size: int, n_images: int) -> float:
        row = self._row(work, batch_size)
        return row[0] if row else super().epoch_s(work, batch_size, n_images)

    def eval_s(self, work: Workload, n_images: int, passes: int = 1) -> float:
        rates = [r[1] for (label, dataset, _), r in self.rows.items()
                 if label == work.label and dataset == work.dataset and not math.isnan(r[1])]
        return passes * n_images / rates[0] if rates else super().eval_s(work, n_images, passes)

    def source(self, work: Workload, batch_size: int) -> str:
        return "measured" if self._row(work, batch_size) else "flop-model"


def write_template(path: str | Path, rows: list[tuple[Workload, int, int]], model: FlopModel) -> None:
    """A measured-table CSV holding every (workload, batch size) of the configs with the current estimate."""
    seen = {}
    for work, batch, n_train in rows:
        seen.setdefault((work.label, work.dataset, batch), (work, n_train))
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(MEASURED_COLUMNS)
        for (label, dataset, batch), (work, n_train) in sorted(seen.items()):
            per_image = model.eval_s(work, 10_000) / 10_000
            out.writerow([label, dataset, batch, f"{model.epoch_s(work, batch, n_train):.2f}", f"{1 / per_image:.0f}",
                          n_train])
