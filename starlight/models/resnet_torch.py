"""torchvision's ResNet18 (ImageNet: 7×7 stride-2 stem and max-pool), built by `torchvision.models.resnet18`.

The model is torchvision's own object, construction, initialisation and forward included, so its state-dict keys
are torchvision's (`conv1`, `bn1`, `layerN.M.{conv1,bn1,conv2,bn2,downsample.0,downsample.1}`, `fc`) and
torchvision's ImageNet checkpoints load without conversion. Its class is swapped for a subclass that only adds
`stem`/`rest` methods (no modules, no state). Widths are torchvision's: width_multiplier must be 1.
"""

from __future__ import annotations

from functools import cache

import torch

from . import options

NAME = "resnet18_torch"
KEYS = {"width_multiplier": 1.0}


class StemRest:
    """stem/rest for torchvision's ResNet; forward stays torchvision's."""

    # forward(x) == rest(stem(x)); the stem is the first conv, so its output is linear in the weights
    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv1(x)

    def rest(self, z: torch.Tensor) -> torch.Tensor:
        out = self.maxpool(self.relu(self.bn1(z)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.fc(torch.flatten(self.avgpool(out), 1))


def build(cfg: dict, in_shape: tuple[int, ...], n_classes: int) -> torch.nn.Module:
    m = options.width_multiplier(cfg, KEYS, NAME)
    if m != 1:
        raise options.ModelConfigError(f"model.width_multiplier={m}: {NAME} is torchvision's resnet18 with its fixed "
                                       f"widths; only width_multiplier = 1 is supported (resnet18_cifar scales)")
    if in_shape[0] != 3:
        raise options.ModelConfigError(f"model.name={NAME!r}: {NAME} takes 3-channel (RGB) images; "
                                       f"got input shape {tuple(in_shape)}")
    import torchvision  # here, not at import: torchvision pulls in torch._dynamo, 40 % of every job's start-up

    model = torchvision.models.resnet18(weights=None, num_classes=n_classes)
    model.__class__ = stem_rest_resnet()
    return model


@cache
def stem_rest_resnet() -> type:
    """torchvision's ResNet class with StemRest's methods (made on first use, with torchvision)."""
    from torchvision.models.resnet import ResNet

    cls = type("StemRestResNet", (StemRest, ResNet), {"__module__": __name__})
    globals()["StemRestResNet"] = cls  # importable by name, as pickle and copy expect
    return cls
