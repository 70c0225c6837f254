"""BatchNorm statistics: after interpolating or permuting weights, running statistics are stale."""

from __future__ import annotations

import torch
from torch import nn

from .data import ImageSet
from .models import has_batchnorm


def _bn_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recompute_bn_stats(model: nn.Module, x: torch.Tensor, batch_size: int = 500) -> nn.Module:
    """Reset every BN layer's running statistics and re-estimate them on `x` (cumulative average).

    Leaves `model` in eval mode. A model without BN is returned unchanged.
    """
    if not has_batchnorm(model):
        return model.eval()
    layers = _bn_layers(model)
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch weighs the same
    model.train()
    for start in range(0, x.shape[0], batch_size):
        model(x[start:start + batch_size])
    for m, momentum in zip(layers, momenta):
        m.momentum = momentum
    return model.eval()


def bn_subset(train: ImageSet, size: int, seed: int) -> torch.Tensor:
    """A fixed, seeded subset of the (un-augmented) training images used for every BN re-estimation."""
    size = min(size, len(train))
    return train.normalised(torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:size])
