"""A small VGG-style net: [conv3x3 -> BN -> ReLU -> maxpool] * depth -> global avg pool -> linear."""

from __future__ import annotations

import torch
from torch import nn

from . import options

NAME = "cnn"
KEYS = {"depth": 1, "width": 128, "batchnorm": True}
MAX_DEPTH = 16


class CNN(nn.Module):
    def __init__(self, in_channels: int, n_classes: int, depth: int, width: int, batchnorm: bool = True):
        super().__init__()
        layers: list[nn.Module] = []
        ch = in_channels
        for i in range(depth):
            out = width * 2**i
            layers.append(nn.Conv2d(ch, out, 3, padding=1, bias=not batchnorm))
            if batchnorm:
                layers.append(nn.BatchNorm2d(out))
            layers += [nn.ReLU(), nn.MaxPool2d(2)]
            ch = out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(ch, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(self.features(x)), 1))

    # forward(x) == rest(stem(x)); see mlp.py
    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.features[0](x)

    def rest(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(self.features[1:](z)), 1))


def build(cfg: dict, in_shape: tuple[int, ...], n_classes: int) -> CNN:
    depth = options.integer(cfg, KEYS, "depth", NAME, maximum=MAX_DEPTH)
    options.image_at_least(in_shape, 2**depth, "depth", depth, NAME, f"{depth} 2×2 max-pools")
    return CNN(in_shape[0], n_classes, depth, options.integer(cfg, KEYS, "width", NAME),
               options.flag(cfg, KEYS, "batchnorm", NAME))
