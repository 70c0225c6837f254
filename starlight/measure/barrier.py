"""Linear-mode-connectivity barriers along the straight path between two models."""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from torch import nn

from ..data import ImageSet
from .bn import bn_batches, estimating_bn
from .interpolate import interpolate_state
from .metrics import evaluate_many

__all__ = ["barrier", "barriers_from_curve", "curve", "grid", "interpolate_state", "path_metrics"]


def grid(points: int) -> list[float]:
    """`points` evenly spaced t in [0, 1], endpoints included."""
    if points < 2:
        raise ValueError(f"a barrier grid needs at least 2 points, got {points}")
    return [i / (points - 1) for i in range(points)]


def barrier(ts: Iterable[float], values: Iterable[float], kind: str = "loss") -> float:
    """Largest deviation of the curve from the chord between its endpoints.

    loss: max_t [L(t) − ((1−t)·L(0) + t·L(1))], clipped at ≥ 0.
    accuracy: min_t [A(t) − ((1−t)·A(0) + t·A(1))], clipped at ≤ 0.
    """
    ts, values = list(ts), list(values)
    if len(ts) != len(values) or len(ts) < 2 or ts[0] != 0.0 or ts[-1] != 1.0:
        raise ValueError("a barrier needs matching t and values with t running from 0 to 1")
    v0, v1 = values[0], values[-1]
    gaps = [v - ((1 - t) * v0 + t * v1) for t, v in zip(ts, values)]
    if kind == "loss":
        return max(0.0, max(gaps))
    if kind == "accuracy":
        return min(0.0, min(gaps))
    raise ValueError(f"unknown barrier kind {kind!r}")


@torch.no_grad()
def curve(model1: nn.Module, model2: nn.Module, splits: dict[str, ImageSet],
          ts: list[float], bn_x: torch.Tensor | None = None, batch_size: int = 1000) -> list[dict]:
    """Loss and accuracy at each t on each split. With `bn_x` (models with BN), every point of the curve,
    the endpoints included, has its BN statistics re-estimated on those images first: the curve and its
    chord never depend on the statistics stored with the models.

    Every t is evaluated in one pass over the data, and BN statistics of every t are re-estimated in one pass over
    `bn_x`. The models split into `stem` (their first affine layer) and `rest` (see models/); the stem's output
    at t is lerp(stem1(x), stem2(x), t) exactly in real arithmetic, so the stem, which holds most of an MLP's
    FLOPs, runs twice per batch instead of once per t.
    """
    sd1, sd2 = model1.state_dict(), model2.state_dict()
    models = []
    for t in ts:
        if t in (0.0, 1.0) and bn_x is None:
            model = (model1 if t == 0.0 else model2).eval()
        else:
            model = copy.deepcopy(model1 if t < 1.0 else model2)
            if 0.0 < t < 1.0:
                model.load_state_dict(interpolate_state(sd1, sd2, t))
        models.append(model.eval())
    model1.eval(), model2.eval()

    def outputs(xb: torch.Tensor):
        z1, z2 = model1.stem(xb), model2.stem(xb)
        for t, model in zip(ts, models):
            yield model.rest(z1 if t == 0.0 else z2 if t == 1.0 else torch.lerp(z1, z2, t))

    if bn_x is not None:
        with estimating_bn(models):
            for xb in bn_batches(bn_x):
                for _ in outputs(xb):
                    pass
    metrics = {split: evaluate_many(outputs, data, batch_size) for split, data in splits.items()}
    return [{"t": t, "split": split, "loss": per_t[i][0], "accuracy": per_t[i][1]}
            for i, t in enumerate(ts) for split, per_t in metrics.items()]


def barriers_from_curve(rows: list[dict]) -> dict[str, float]:
    """The four barriers (train/test × loss/accuracy) of a curve made by `curve`."""
    out = {}
    for split in ("train", "test"):
        pts = sorted((r["t"], r["loss"], r["accuracy"]) for r in rows if r["split"] == split)
        ts = [p[0] for p in pts]
        out[f"{split}_loss_barrier"] = barrier(ts, [p[1] for p in pts], "loss")
        out[f"{split}_acc_barrier"] = barrier(ts, [p[2] for p in pts], "accuracy")
    return out


def path_metrics(rows: list[dict]) -> dict[str, float]:
    """What the barrier's chord hides, per split of a curve made by `curve`: the highest loss on the path
    (`path_max_loss`), its excess over the worse endpoint's loss (max_t L(t) − max(L(0), L(1)), clipped at ≥ 0:
    `path_excess_loss`), and the accuracy analogues (`path_min_acc`; min_t A(t) − min(A(0), A(1)), clipped at
    ≤ 0: `path_excess_acc`). A worse endpoint lowers the barrier; it does not lower these."""
    out = {}
    for split in ("train", "test"):
        pts = sorted((r["t"], r["loss"], r["accuracy"]) for r in rows if r["split"] == split)
        losses, accs = [p[1] for p in pts], [p[2] for p in pts]
        out[f"{split}_path_max_loss"] = max(losses)
        out[f"{split}_path_excess_loss"] = max(0.0, max(losses) - max(losses[0], losses[-1]))
        out[f"{split}_path_min_acc"] = min(accs)
        out[f"{split}_path_excess_acc"] = min(0.0, min(accs) - min(accs[0], accs[-1]))
    return out
