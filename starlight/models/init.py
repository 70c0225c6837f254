"""Weight initialisation shared by the pre-activation CIFAR networks (DenseNet, WideResNet), as their reference
implementations do it."""

from __future__ import annotations

from torch import nn


def kaiming_convs_zero_linear_bias(model: nn.Module) -> None:
    """He-normal (fan-out, ReLU) convolution weights and zero biases of the linear layers; the rest keeps PyTorch's
    defaults."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.Linear):
            nn.init.zeros_(module.bias)
