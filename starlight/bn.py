"""BatchNorm statistics: after interpolating or permuting weights, running statistics are stale.

They are re-estimated the standard way, with the BN layers in train mode so that each normalises with its
batch's statistics (every other layer, dropout included, in eval mode), but each layer's running mean and
variance are pooled over every sample it saw:
per-batch means and sums of squared deviations combined exactly (Chan et al.), in float64, weighted by the
number of values each batch contributed. A layer whose input does not depend on the batch split (the first BN
layer) thus gets the exact mean and (unbiased) variance of its inputs over the whole subset, however the subset
is cut into batches. The batches are as equal in size as possible, so none holds a single sample.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .data import ImageSet
from .models import has_batchnorm


def _bn_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """The BN layers that keep running statistics (the others always normalise with their batch's)."""
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


class _Pooled:
    """Running count, mean and sum of squared deviations per channel of one BN layer's inputs."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, None, None

    def __call__(self, module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        x = args[0].detach().double()
        dims = [d for d in range(x.dim()) if d != 1]
        n = x.numel() // x.shape[1]
        mean = x.mean(dims)
        m2 = (x - mean.view(1, -1, *([1] * (x.dim() - 2)))).square().sum(dims)
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


@torch.no_grad()
def recompute_bn_stats(model: nn.Module, x: torch.Tensor, batch_size: int = 500) -> nn.Module:
    """Reset every BN layer's running statistics and re-estimate them on images `x`, pooled per sample.

    Leaves `model` in eval mode. A model without BN is returned unchanged.
    """
    if not has_batchnorm(model):
        return model.eval()
    if x.shape[0] < 2:
        raise ValueError(f"BN statistics need at least 2 images, got {x.shape[0]}")
    layers = _bn_layers(model)
    for m in layers:
        m.reset_running_stats()
    pooled = [_Pooled() for _ in layers]
    hooks = [m.register_forward_pre_hook(p) for m, p in zip(layers, pooled)]
    try:
        model.eval()
        for m in layers:
            m.train()
        for xb in torch.tensor_split(x, math.ceil(x.shape[0] / batch_size)):
            model(xb)
    finally:
        for h in hooks:
            h.remove()
    for m, p in zip(layers, pooled):
        p.write(m)
    return model.eval()


def bn_subset(train: ImageSet, size: int, seed: int) -> torch.Tensor:
    """A fixed, seeded subset of the (un-augmented) training images used for every BN re-estimation."""
    size = min(size, len(train))
    return train.normalised(torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:size])
