"""The model zoo: one file per architecture family, each with `build(model_cfg, in_shape, n_classes) -> nn.Module`.

Adding a model is one new file, one line in MODELS and one in MODEL_KEYS (and one in MODEL_INPUTS for a model
that reads anything but images). Each family module declares `KEYS`:
the model-section keys it reads, mapped to their defaults (None: required). Every model exposes `stem(x)`, its
first affine layer, and `rest(z)`, with forward(x) == rest(stem(x)): `barrier.curve` interpolates the stem's
outputs instead of recomputing the stem at every t.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from . import cnn, densenet, mlp, resnet_cifar, resnet_torch, text, vgg, wrn
from .options import ModelConfigError

MODELS = {
    "mlp": mlp.build,
    "cnn": cnn.build,
    "resnet18_cifar": resnet_cifar.build,
    "vgg11": partial(vgg.build, plan="vgg11", batchnorm=False),
    "vgg19": partial(vgg.build, plan="vgg19", batchnorm=False),
    "vgg11_bn": partial(vgg.build, plan="vgg11", batchnorm=True),
    "vgg19_bn": partial(vgg.build, plan="vgg19", batchnorm=True),
    "densenet40": densenet.build,
    "wrn": wrn.build,
    "resnet18_torch": resnet_torch.build,
    "text_bag": text.build_bag,
    "text_cnn": text.build_cnn,
}

# The model-section keys (besides `name`) each model reads, with their defaults.
MODEL_KEYS = {
    "mlp": mlp.KEYS,
    "cnn": cnn.KEYS,
    "resnet18_cifar": resnet_cifar.KEYS,
    "vgg11": vgg.KEYS,
    "vgg19": vgg.KEYS,
    "vgg11_bn": vgg.KEYS,
    "vgg19_bn": vgg.KEYS,
    "densenet40": densenet.KEYS,
    "wrn": wrn.KEYS,
    "resnet18_torch": resnet_torch.KEYS,
    "text_bag": text.BAG_KEYS,
    "text_cnn": text.CNN_KEYS,
}

# What each model reads: "images" (float [batch, C, H, W], the default) or "tokens" (token ids [batch, length],
# the input shape being (vocabulary size, length)); a dataset's spec says which it holds (DatasetSpec.input).
MODEL_INPUTS = {"text_bag": text.INPUT, "text_cnn": text.INPUT}

KNOWN_KEYS = {"name"} | {key for keys in MODEL_KEYS.values() for key in keys}


def _model_name(model_cfg: dict) -> str:
    name = model_cfg.get("name")
    if name not in MODELS:
        raise ModelConfigError(f"model.name={name!r}: unknown model; expected one of {', '.join(MODELS)}")
    unknown = sorted(set(model_cfg) - KNOWN_KEYS)
    if unknown:
        raise ModelConfigError(f"model.{unknown[0]}: unknown key; the model section takes "
                               f"{', '.join(sorted(KNOWN_KEYS))}")
    return name


def model_config(model_cfg: dict) -> dict:
    """`{"name": ..., **the keys that model reads}`, defaults filled in: two configs build the same architecture
    exactly when their model_config agree, whatever keys the model ignores."""
    name = _model_name(model_cfg)
    return {"name": name, **{key: model_cfg.get(key, default) for key, default in MODEL_KEYS[name].items()}}


def model_input(model_cfg: dict) -> str:
    """What the configured model reads: "images" or "tokens"."""
    return MODEL_INPUTS.get(_model_name(model_cfg), "images")


def example_input(kind: str, in_shape: tuple[int, ...], n: int = 1) -> torch.Tensor:
    """`n` all-zero inputs of a model reading `kind`: images of `in_shape`, or token ids (all padding) of the
    length in (vocabulary, length)."""
    if kind == "tokens":
        return torch.zeros(n, in_shape[-1], dtype=torch.long)
    return torch.zeros(n, *in_shape)


def build_model(model_cfg: dict, in_shape: tuple[int, ...] = (1, 28, 28), n_classes: int = 10) -> nn.Module:
    """Build the model a config section names, for inputs of `in_shape` ((C, H, W) for images, (vocabulary,
    length) for token ids) and `n_classes` outputs.

    A bad value raises a ValueError naming the key and the rule (e.g. "model.depth=20: wrn needs ...").
    """
    name = _model_name(model_cfg)
    return MODELS[name](model_cfg, tuple(in_shape), n_classes)


def check_model_config(model_cfg: dict, in_shape: tuple[int, ...], n_classes: int) -> None:
    """Build the model on the meta device (no memory, no initialisation), give it uninitialised CPU storage and push
    one input of `in_shape` through it in eval mode; raise a ValueError naming the key (builder errors) or the model
    and input shape (a shape that does not fit).

    Not a forward pass on the meta device: meta kernels written in Python import torch._dynamo on first use, which
    would add more than a second to every snakemake start (dry runs, SLURM jobs) for a check that costs
    milliseconds to a few tenths of a second on the CPU."""
    name = _model_name(model_cfg)
    with torch.device("meta"):
        model = build_model(model_cfg, in_shape, n_classes)
    model = model.to_empty(device="cpu").eval()
    try:
        with torch.no_grad():
            out = model(example_input(model_input(model_cfg), in_shape))
    except RuntimeError as exc:
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ModelConfigError(f"model.name={name!r}: the model does not fit inputs of shape "
                               f"{tuple(in_shape)}: {first_line}") from exc
    if tuple(out.shape) != (1, n_classes):
        raise ModelConfigError(f"model.name={name!r}: the model gives outputs of shape {tuple(out.shape[1:])}, "
                               f"not ({n_classes},)")


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def uses_batchnorm(model_cfg: dict, in_shape: tuple[int, ...] = (1, 28, 28), n_classes: int = 10) -> bool:
    """Whether the configured model has BN layers; built on the meta device, so it costs no memory."""
    with torch.device("meta"):
        return has_batchnorm(build_model(model_cfg, in_shape, n_classes))
