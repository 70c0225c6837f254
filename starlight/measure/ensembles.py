"""Ensembles of models, and the models on the segments from a star to its anchors.

An ensemble predicts with the mean of its members' softmax outputs. Its NLL is the mean cross-entropy of that
averaged distribution, computed in log space so that no probability underflows to zero:
log (1/M)·Σ_m p_m = logsumexp_m(log p_m) − log M. Its accuracy is that of the averaged distribution's argmax.

A segment model sits at θ = (1−t)·θ_star + t·θ_anchor, the anchor already aligned onto the star; which anchor
and which t are drawn from a seed, so the sampled models are a pure function of (star, anchors, samples, seed).
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Hashable, Sequence

import torch
from torch import nn

from ..data import ImageSet
from ..models import has_batchnorm
from .bn import recompute_bn_stats
from .interpolate import interpolate_state

SegmentPoint = tuple[int, float]  # (anchor index, t)


def segment_points(n_anchors: int, samples: int, seed: int) -> list[SegmentPoint]:
    """`samples` draws of (an anchor uniformly among `n_anchors`, t uniform in [0, 1]), seeded by `seed`."""
    if n_anchors < 1:
        raise ValueError(f"segment models need at least one anchor, got {n_anchors}")
    if samples < 1:
        raise ValueError(f"ensembles.samples={samples}: a segment ensemble needs at least one model")
    rng = random.Random(seed)
    return [(rng.randrange(n_anchors), rng.random()) for _ in range(samples)]


def segment_model(star: nn.Module, anchor: nn.Module, t: float, bn_x: torch.Tensor | None = None) -> nn.Module:
    """A new model at (1−t)·θ_star + t·θ_anchor (`anchor` aligned onto `star` beforehand), in eval mode.

    A model with BatchNorm gets its statistics re-estimated on images `bn_x`: interpolated running statistics
    do not describe the interpolated network's activations."""
    if has_batchnorm(star) and bn_x is None:
        raise ValueError("a segment model with BatchNorm needs images (bn_x) to re-estimate its statistics on")
    model = copy.deepcopy(star)
    model.load_state_dict(interpolate_state(star.state_dict(), anchor.state_dict(), t))
    return recompute_bn_stats(model, bn_x) if bn_x is not None else model.eval()


def segment_models(star: nn.Module, anchors: Sequence[nn.Module], samples: int, seed: int,
                   bn_x: torch.Tensor | None = None) -> tuple[list[SegmentPoint], list[nn.Module]]:
    """The sampled points (anchor index, t) and the model at each, BN statistics re-estimated per model."""
    points = segment_points(len(anchors), samples, seed)
    return points, [segment_model(star, anchors[i], t, bn_x) for i, t in points]


def log_mean_probs(logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """log of the members' averaged softmax, [N, C], from each member's logits [N, C]."""
    log_probs = torch.stack([torch.log_softmax(z, 1) for z in logits])
    return torch.logsumexp(log_probs, 0) - math.log(len(logits))


@torch.no_grad()
def evaluate_ensembles(models: Sequence[nn.Module], ensembles: dict[Hashable, Sequence[int]], data: ImageSet,
                       batch_size: int = 1000) -> dict[Hashable, tuple[float, float]]:
    """(NLL, accuracy) of each named ensemble (indices into `models`) on `data`, in one pass over the data.

    Every model runs once per batch, however many ensembles it belongs to; a single model is an ensemble of one.
    """
    for name, members in ensembles.items():
        if not members:
            raise ValueError(f"ensemble {name!r} has no members")
        bad = [i for i in members if not 0 <= i < len(models)]
        if bad:
            raise ValueError(f"ensemble {name!r} names models {bad}, but there are {len(models)}")
    used = sorted({i for members in ensembles.values() for i in members})
    for i in used:
        models[i].eval()
    nll = {name: torch.zeros((), dtype=torch.float64) for name in ensembles}
    hits = {name: 0 for name in ensembles}
    n = 0
    for xb, yb in data.batches(batch_size):
        logits = {i: models[i](xb) for i in used}
        for name, members in ensembles.items():
            log_p = log_mean_probs([logits[i] for i in members])
            nll[name] -= log_p.gather(1, yb[:, None]).double().sum().cpu()
            hits[name] += int((log_p.argmax(1) == yb).sum())
        n += yb.shape[0]
    if n == 0:
        raise ValueError("cannot evaluate an ensemble on an empty split")
    return {name: (float(nll[name]) / n, hits[name] / n) for name in ensembles}


def evaluate_ensemble(models: Sequence[nn.Module], data: ImageSet, batch_size: int = 1000) -> tuple[float, float]:
    """(NLL, accuracy) of the ensemble of all `models` (averaged softmax) on `data`."""
    return evaluate_ensembles(models, {"all": range(len(models))}, data, batch_size)["all"]
