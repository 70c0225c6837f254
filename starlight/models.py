"""Model zoo: plain PyTorch modules whose architecture is fully given by a config dict.

Every model also exposes `stem(x)`, its first affine layer, and `rest(z)`, with forward(x) == rest(stem(x)):
`barrier.curve` interpolates the stem's outputs instead of recomputing the stem at every t."""

from __future__ import annotations

import torch
from torch import nn

MODEL_NAMES = ("mlp", "cnn")


class MLP(nn.Module):
    """in_dim -> [width (-> BN) -> ReLU] * depth -> n_classes."""

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


class CNN(nn.Module):
    """A small VGG-style net: [conv3x3 -> BN -> ReLU -> maxpool] * depth -> global avg pool -> linear."""

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

    # forward(x) == rest(stem(x)); see MLP
    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.features[0](x)

    def rest(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(self.features[1:](z)), 1))


def build_model(model_cfg: dict, image_shape: tuple[int, ...] = (1, 28, 28), n_classes: int = 10) -> nn.Module:
    """Build a model from its config section ({name, depth, width, batchnorm})."""
    name = model_cfg["name"]
    depth, width = int(model_cfg["depth"]), int(model_cfg["width"])
    batchnorm = bool(model_cfg.get("batchnorm", name == "cnn"))
    if name == "mlp":
        in_dim = 1
        for d in image_shape:
            in_dim *= d
        return MLP(in_dim, n_classes, depth, width, batchnorm)
    if name == "cnn":
        return CNN(image_shape[0], n_classes, depth, width, batchnorm)
    raise ValueError(f"unknown model name {name!r}; expected one of {', '.join(MODEL_NAMES)}")


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
