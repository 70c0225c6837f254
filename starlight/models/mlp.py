"""A fully connected network: in_dim -> [width (-> BN) -> ReLU] * depth -> n_classes."""

from __future__ import annotations

import math

import torch
from torch import nn

from . import options

NAME = "mlp"
KEYS = {"depth": 1, "width": 128, "batchnorm": False}
MAX_DEPTH = 16


class MLP(nn.Module):
    def __init__(self, in_dim: int, n_classes: int, depth: int, width: int, batchnorm: bool = False):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        dim = in_dim
        for _ in range(depth):
            layers.append(nn.Linear(dim, width))
            if batchnorm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.ReLU())
            dim = width
        layers.append(nn.Linear(dim, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    # forward(x) == rest(stem(x)); the stem is the first affine layer, so its output is linear in the weights
    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[1](self.net[0](x))

    def rest(self, z: torch.Tensor) -> torch.Tensor:
        return self.net[2:](z)


def build(cfg: dict, in_shape: tuple[int, ...], n_classes: int) -> MLP:
    return MLP(math.prod(in_shape), n_classes, options.integer(cfg, KEYS, "depth", NAME, maximum=MAX_DEPTH),
               options.integer(cfg, KEYS, "width", NAME), options.flag(cfg, KEYS, "batchnorm", NAME))
