"""VGG11 and VGG19 for CIFAR, with or without BatchNorm: the standard channel plans scaled by m, five 2×2
max-pools, global average pooling and one linear head on 512·m features.

The state-dict layout is kuangliu/pytorch-cifar's (models/vgg.py): one `features` Sequential of
[conv3×3 (with bias), BN, ReLU] per plan entry ([conv3×3, ReLU] without BN) and a max-pool per "M", then
`classifier`, one Linear. That code's trailing 1×1 average pool is an adaptive one here: the same on 32×32
inputs (1×1 maps after five pools), and larger inputs work too. Neither holds parameters, so
pytorch-cifar checkpoints of `vgg11_bn`/`vgg19_bn` load without conversion.
"""

from __future__ import annotations

import torch
from torch import nn

from . import options

KEYS = {"width_multiplier": 1.0}
POOL = "M"
PLANS = {
    "vgg11": (64, POOL, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL),
    "vgg19": (64, 64, POOL, 128, 128, POOL, 256, 256, 256, 256, POOL, 512, 512, 512, 512, POOL,
              512, 512, 512, 512, POOL),
}


class VGG(nn.Module):
    def __init__(self, plan: tuple, in_channels: int, n_classes: int, batchnorm: bool, width_multiplier: float = 1.0):
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for entry in plan:
            if entry == POOL:
                layers.append(nn.MaxPool2d(2, stride=2))
                continue
            width = options.scaled(entry, width_multiplier)
            layers.append(nn.Conv2d(channels, width, 3, padding=1))
            if batchnorm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU())  # not in place: rest() must leave the stem's output untouched
            channels = width
        layers.append(nn.AdaptiveAvgPool2d(1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rest(self.stem(x))

    # forward(x) == rest(stem(x)); the stem is the first conv, so its output is linear in the weights
    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.features[0](x)

    def rest(self, z: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features[1:](z), 1))


def build(cfg: dict, in_shape: tuple[int, ...], n_classes: int, *, plan: str, batchnorm: bool) -> VGG:
    name = f"{plan}_bn" if batchnorm else plan
    pools = PLANS[plan].count(POOL)
    options.image_at_least(in_shape, 2**pools, "name", name, name, f"{pools} 2×2 max-pools")
    return VGG(PLANS[plan], in_shape[0], n_classes, batchnorm, options.width_multiplier(cfg, KEYS, name))
