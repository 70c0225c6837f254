"""The model zoo: one file per architecture, each with `build(model_cfg, in_shape, n_classes) -> nn.Module`.

Adding a model is one new file and one line in MODELS. A model may also expose `stem(x)`, its first
affine layer, and `rest(z)`, with forward(x) == rest(stem(x)): `barrier.curve` then interpolates the
stem's outputs instead of recomputing the stem at every t.
"""

from __future__ import annotations

import torch
from torch import nn

from . import cnn, mlp

MODELS = {
    "mlp": mlp.build,
    "cnn": cnn.build,
}


def build_model(model_cfg: dict, in_shape: tuple[int, ...] = (1, 28, 28), n_classes: int = 10) -> nn.Module:
    """Build the model a config section names, for inputs of `in_shape` (C, H, W) and `n_classes` outputs."""
    name = model_cfg["name"]
    if name not in MODELS:
        raise ValueError(f"unknown model name {name!r}; expected one of {', '.join(MODELS)}")
    return MODELS[name](model_cfg, tuple(in_shape), n_classes)


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def uses_batchnorm(model_cfg: dict, in_shape: tuple[int, ...] = (1, 28, 28), n_classes: int = 10) -> bool:
    """Whether the configured model has BN layers; built on the meta device, so it costs no memory."""
    with torch.device("meta"):
        return has_batchnorm(build_model(model_cfg, in_shape, n_classes))
