"""WideResNet-d-k for CIFAR (Zagoruyko & Komodakis 2016): a 3×3 stem conv to 16 channels, three groups of
n = (d − 4)/6 pre-activation basic blocks (BN-ReLU-conv3×3-BN-ReLU-dropout-conv3×3) at 16k, 32k, 64k channels
(stride 2 entering groups 2 and 3), then BN-ReLU, global average pooling and a linear head. Every channel count
is also scaled by the width multiplier m. `depth` is d, `widen_factor` is k, `dropout` the in-block dropout.

The state-dict layout is xternalz/WideResNet-pytorch's (wideresnet.py), the most copied PyTorch WRN (RobustBench
and much semi-supervised work use it): `conv1`, `block{1,2,3}.layer.{i}.{bn1,conv1,bn2,conv2}`,
`block{g}.layer.0.convShortcut` (a 1×1 conv, where the shape changes), `bn1`, `fc`; convs without bias. As
there, a block with a shortcut conv feeds it the pre-activated input, and a block without one adds its raw input.
Its initialisation too: conv weights N(0, 2/(k·k·out_channels)), linear bias 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import options
from .init import kaiming_convs_zero_linear_bias

NAME = "wrn"
KEYS = {"depth": None, "widen_factor": 1, "width_multiplier": 1.0, "dropout": 0.0}
STEM_CHANNELS, GROUP_CHANNELS = 16, (16, 32, 64)


class WideBasicBlock(nn.Module):
    def __init__(self, in_channels: int, channels: int, stride: int, dropout: float):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        reshapes = in_channels != channels or stride != 1
        self.convShortcut = nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False) if reshapes else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = F.relu(self.bn1(x))
        out = self.dropout(F.relu(self.bn2(self.conv1(activated))))
        out = self.conv2(out)
        return out + (x if self.convShortcut is None else self.convShortcut(activated))


class BlockGroup(nn.Module):
    def __init__(self, in_channels: int, channels: int, n_blocks: int, stride: int, dropout: float):
        super().__init__()
        self.layer = nn.Sequential(*(WideBasicBlock(in_channels if i == 0 else channels, channels,
                                                    stride if i == 0 else 1, dropout) for i in range(n_blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


class WideResNet(nn.Module):
    def __init__(self, in_channels: int, n_classes: int, depth: int, widen_factor: int,
                 width_multiplier: float = 1.0, dropout: float = 0.0):
        super().__init__()
        n_blocks = (depth - 4) // 6
        widths = [options.scaled(c * widen_factor, width_multiplier) for c in GROUP_CHANNELS]
        channels = options.scaled(STEM_CHANNELS, width_multiplier)
        self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1, bias=False)
        self.block1 = BlockGroup(channels, widths[0], n_blocks, 1, dropout)
        self.block2 = BlockGroup(widths[0], widths[1], n_blocks, 2, dropout)
        self.block3 = BlockGroup(widths[1], widths[2], n_blocks, 2, dropout)
        self.bn1 = nn.BatchNorm2d(widths[2])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[2], n_classes)
        kaiming_convs_zero_linear_bias(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rest(self.stem(x))

    # forward(x) == rest(stem(x)); the stem is the first conv, so its output is linear in the weights
    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv1(x)

    def rest(self, z: torch.Tensor) -> torch.Tensor:
        out = self.block3(self.block2(self.block1(z)))
        return self.fc(torch.flatten(self.pool(F.relu(self.bn1(out))), 1))


def build(cfg: dict, in_shape: tuple[int, ...], n_classes: int) -> WideResNet:
    depth = options.integer(cfg, KEYS, "depth", NAME, minimum=10)
    if (depth - 4) % 6:
        raise options.ModelConfigError(f"model.depth={depth}: {NAME} needs (depth − 4) % 6 == 0 "
                                       f"(e.g. 16, 22, 28, 40)")
    return WideResNet(in_shape[0], n_classes, depth, options.integer(cfg, KEYS, "widen_factor", NAME),
                      options.width_multiplier(cfg, KEYS, NAME), options.dropout(cfg, KEYS, NAME))
