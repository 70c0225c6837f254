"""ResNet18 for CIFAR: a 3×3 stride-1 stem without max-pool, BasicBlocks [2, 2, 2, 2] at 64·m, 128·m, 256·m, 512·m
channels, a 1×1 conv + BN shortcut where the shape changes, global average pooling and a linear head.

The state-dict layout is kuangliu/pytorch-cifar's (models/resnet.py), which most CIFAR work and the star-domain
paper's reference code use: `conv1`, `bn1`, `layerN.M.{conv1,bn1,conv2,bn2}`, `layerN.M.shortcut.{0,1}` (conv, BN)
and `linear`; its checkpoints load without conversion. On 32×32 inputs the adaptive pool is that code's 4×4
average pool; other input sizes work too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import options

NAME = "resnet18_cifar"
KEYS = {"width_multiplier": 1.0}
STAGE_CHANNELS = (64, 128, 256, 512)


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut = nn.Sequential()  # identity: no parameters, no state-dict entries
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


def _stage(in_channels: int, channels: int, stride: int) -> nn.Sequential:
    """Two BasicBlocks; the first changes the width and (stride 2) halves the image."""
    return nn.Sequential(BasicBlock(in_channels, channels, stride), BasicBlock(channels, channels, 1))


class ResNet18Cifar(nn.Module):
    def __init__(self, in_channels: int, n_classes: int, width_multiplier: float = 1.0):
        super().__init__()
        w = [options.scaled(c, width_multiplier) for c in STAGE_CHANNELS]
        self.conv1 = nn.Conv2d(in_channels, w[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(w[0])
        self.layer1 = _stage(w[0], w[0], stride=1)
        self.layer2 = _stage(w[0], w[1], stride=2)
        self.layer3 = _stage(w[1], w[2], stride=2)
        self.layer4 = _stage(w[2], w[3], stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(w[3], n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rest(self.stem(x))

    # forward(x) == rest(stem(x)); the stem is the first conv, so its output is linear in the weights
    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv1(x)

    def rest(self, z: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(z))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.linear(torch.flatten(self.pool(out), 1))


def build(cfg: dict, in_shape: tuple[int, ...], n_classes: int) -> ResNet18Cifar:
    return ResNet18Cifar(in_shape[0], n_classes, options.width_multiplier(cfg, KEYS, NAME))
