"""BatchNorm statistics: after interpolating or permuting weights, running statistics are stale.

They are re-estimated the standard way, with the BN layers in train mode so that each normalises with its
batch's statistics (every other layer, dropout included, in eval mode), but each layer's running mean and
variance are pooled over every sample it saw: per-batch means and sums of squared deviations combined exactly
(Chan et al.), in float64, weighted by the number of values each batch contributed. A layer whose input does not
depend on the batch split (the first BN layer) thus gets the exact mean and (unbiased) variance of its inputs
over the whole subset, however the subset is cut into batches. The batches are as equal in size as possible, so
none holds a single sample.

The per-batch statistics are the ones the BN layer computes anyway: with momentum 1 its running mean and
variance after a batch are that batch's mean and unbiased variance, so pooling costs no extra pass over the
activations. `estimating_bn` re-estimates several models in one pass over the data (a curve's points).

Every re-estimation of an experiment uses the same images, `bn_subset`: the experiment's `bn` section (`subset`
un-augmented training images, drawn with `seed`), for every model the pipeline writes, every curve point and
every ensemble member alike.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
from torch import nn

from ..data import ImageSet
from ..models import has_batchnorm


def _bn_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """The BN layers that keep running statistics (the others always normalise with their batch's)."""
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


class _Pooled:
    """Running count, mean and sum of squared deviations per channel of one BN layer's inputs, from the batch
    statistics the layer itself computed (momentum 1: its running stats hold the last batch's)."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, None, None

    def __call__(self, module: nn.modules.batchnorm._BatchNorm, args: tuple[torch.Tensor, ...], _out) -> None:
        x = args[0]
        n = x.numel() // x.shape[1]
        mean = module.running_mean.double()
        m2 = module.running_var.double() * (n - 1)  # the unbiased variance of the batch, times n − 1
        if self.mean is None:
            self.n, self.mean, self.m2 = n, mean, m2
            return
        total = self.n + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta.square() * (self.n * n / total)
        self.n = total

    def write(self, module: nn.modules.batchnorm._BatchNorm) -> None:
        module.running_mean.copy_(self.mean.to(module.running_mean.dtype))
        module.running_var.copy_((self.m2 / max(self.n - 1, 1)).to(module.running_var.dtype))


@contextlib.contextmanager
def estimating_bn(models: list[nn.Module]) -> Iterator[None]:
    """Inside: every BN layer of `models` normalises with its batch's statistics (train mode, every other layer in
    eval mode) and pools them per sample; on leaving, each layer's running statistics are the pooled ones and the
    models are in eval mode. Run each model (or its `rest`) on batches of at least 2 samples inside."""
    layers = [m for model in models for m in _bn_layers(model)]
    saved = [m.momentum for m in layers]
    pooled = [_Pooled() for _ in layers]
    hooks = [m.register_forward_hook(p) for m, p in zip(layers, pooled)]
    try:
        for model in models:
            model.eval()
        for m in layers:
            m.reset_running_stats()
            m.momentum = 1.0
            m.train()
        yield
        for m, p in zip(layers, pooled):
            if p.mean is not None:
                p.write(m)
    finally:
        for h in hooks:
            h.remove()
        for m, momentum in zip(layers, saved):
            m.momentum = momentum
        for model in models:
            model.eval()


def bn_batches(x: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, ...]:
    """`x` cut into batches of at most `batch_size`, as equal in size as possible (none of a single sample)."""
    if x.shape[0] < 2:
        raise ValueError(f"BN statistics need at least 2 images, got {x.shape[0]}")
    return torch.tensor_split(x, math.ceil(x.shape[0] / batch_size))


@torch.no_grad()
def recompute_bn_stats(model: nn.Module, x: torch.Tensor, batch_size: int = 500) -> nn.Module:
    """Reset every BN layer's running statistics and re-estimate them on images `x`, pooled per sample.

    Leaves `model` in eval mode. A model without BN is returned unchanged.
    """
    if not has_batchnorm(model):
        return model.eval()
    batches = bn_batches(x, batch_size)
    with estimating_bn([model]):
        for xb in batches:
            model(xb)
    return model


def bn_subset(train: ImageSet, size: int, seed: int) -> torch.Tensor:
    """A fixed, seeded subset of the (un-augmented) training images used for every BN re-estimation (the
    experiment's `bn` section: `subset` images, drawn with `seed`)."""
    size = min(size, len(train))
    return train.normalised(torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:size])
