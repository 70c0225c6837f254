"""DenseNet-40-12 for CIFAR (Huang et al. 2017, the "DenseNet (L=40, k=12)" of its Table 2): a 3×3 stem conv
to 2k channels, three dense blocks of (40 − 4)/3 = 12 layers, each layer BN-ReLU-conv3×3 adding k channels
(no bottleneck), transitions BN-ReLU-conv1×1-avgpool2×2 that keep the channel count (compression 1), then
BN-ReLU, global average pooling and a linear head. Growth k = 12·m; dropout after every conv (0 by default).

The state-dict layout is andreasveit/densenet-pytorch's (densenet.py, `DenseNet3(40, n, growth_rate=12,
reduction=1.0, bottleneck=False)`), the PyTorch DenseNet-40 most CIFAR code copies, the star-domain paper's
reference code included: `conv1`, `block{1,2,3}.layer.{i}.{bn1,conv1}`, `trans{1,2}.{bn1,conv1}`, `bn1`, `fc`.
Its initialisation too: conv weights N(0, 2/(k·k·out_channels)), linear bias 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import options
from .init import kaiming_convs_zero_linear_bias

NAME = "densenet40"
KEYS = {"width_multiplier": 1.0, "dropout": 0.0}
DEPTH, GROWTH = 40, 12
LAYERS_PER_BLOCK = (DEPTH - 4) // 3


class DenseLayer(nn.Module):
    """BN-ReLU-conv3×3 producing `growth` new channels, concatenated to its input."""

    def __init__(self, in_channels: int, growth: int, dropout: float):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, growth, 3, padding=1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.dropout(self.conv1(F.relu(self.bn1(x))))], 1)


class DenseBlock(nn.Module):
    def __init__(self, in_channels: int, growth: int, n_layers: int, dropout: float):
        super().__init__()
        self.layer = nn.Sequential(*(DenseLayer(in_channels + i * growth, growth, dropout) for i in range(n_layers)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


class Transition(nn.Module):
    """BN-ReLU-conv1×1 (same channel count: compression 1) then 2×2 average pooling."""

    def __init__(self, channels: int, dropout: float):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, channels, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(self.dropout(self.conv1(F.relu(self.bn1(x)))), 2)


class DenseNet40(nn.Module):
    def __init__(self, in_channels: int, n_classes: int, width_multiplier: float = 1.0, dropout: float = 0.0):
        super().__init__()
        growth = options.scaled(GROWTH, width_multiplier)
        channels = 2 * growth
        self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1, bias=False)
        self.block1 = DenseBlock(channels, growth, LAYERS_PER_BLOCK, dropout)
        channels += LAYERS_PER_BLOCK * growth
        self.trans1 = Transition(channels, dropout)
        self.block2 = DenseBlock(channels, growth, LAYERS_PER_BLOCK, dropout)
        channels += LAYERS_PER_BLOCK * growth
        self.trans2 = Transition(channels, dropout)
        self.block3 = DenseBlock(channels, growth, LAYERS_PER_BLOCK, dropout)
        channels += LAYERS_PER_BLOCK * growth
        self.bn1 = nn.BatchNorm2d(channels)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, n_classes)
        kaiming_convs_zero_linear_bias(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rest(self.stem(x))

    # forward(x) == rest(stem(x)); the stem is the first conv, so its output is linear in the weights
    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv1(x)

    def rest(self, z: torch.Tensor) -> torch.Tensor:
        out = self.block3(self.trans2(self.block2(self.trans1(self.block1(z)))))
        return self.fc(torch.flatten(self.pool(F.relu(self.bn1(out))), 1))


def build(cfg: dict, in_shape: tuple[int, ...], n_classes: int) -> DenseNet40:
    options.image_at_least(in_shape, 4, "name", NAME, NAME, "two 2×2 average pools")
    return DenseNet40(in_shape[0], n_classes, options.width_multiplier(cfg, KEYS, NAME),
                      options.dropout(cfg, KEYS, NAME))
