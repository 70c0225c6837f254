"""Options that make training faster on a GPU, each off by default, each a key of the `train` section.

- `precision: bf16` runs the forward pass and the loss under `torch.autocast` in bfloat16 (parameters, gradients
  and optimizer state stay float32);
- `channels_last: true` stores the model's 4-d weights and every input batch in NHWC order (convolutions run
  their fastest kernels on tensor cores);
- `compile: true` runs the training forward through `torch.compile` (the module itself, and so its state-dict
  keys and checkpoints, stay as they are).

They change how training computes, so results move within rounding (bf16: within its 8-bit mantissa), and they
are part of a job's params: turning one on retrains. Each works on the CPU too (the tests compare a few steps with
each option on and off), where only `compile` is likely to help. Evaluation, BN re-estimation and barriers always
run in float32 on the plain module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}
KEYS = ("precision", "channels_last", "compile")


@dataclass(frozen=True)
class Speed:
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False

    @classmethod
    def of(cls, cfg: dict) -> Speed:
        """The options a train section asks for (absent keys: off); a bad value names its key."""
        precision = cfg.get("precision", "fp32")
        if precision not in PRECISIONS:
            raise ValueError(f"train.precision={precision!r}: expected one of {', '.join(PRECISIONS)}")
        flags = {}
        for key in ("channels_last", "compile"):
            flags[key] = cfg.get(key, False)
            if type(flags[key]) is not bool:
                raise ValueError(f"train.{key}={flags[key]!r}: expected true or false")
        return cls(precision, **flags)

    def prepare(self, model: nn.Module) -> nn.Module:
        """Put `model`'s weights in the memory format the options ask for (in place; the tensors stay the same
        objects, so optimizers and references to them stay valid)."""
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        return model

    def release(self, model: nn.Module) -> nn.Module:
        """Back to the ordinary (contiguous) layout after training."""
        if self.channels_last:
            model.to(memory_format=torch.contiguous_format)
        return model

    def forward(self, module: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
        """The callable that runs `module`'s training forward: compiled or the module itself."""
        return torch.compile(module) if self.compile else module

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last and x.dim() == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def autocast(self, device: torch.device):
        """The context the forward pass and the loss run in."""
        dtype = PRECISIONS[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=dtype)
