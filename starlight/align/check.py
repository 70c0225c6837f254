"""The safety net of every alignment: the aligned model must compute the same function as the original."""

from __future__ import annotations

import torch
from torch import nn

CHECK_EXAMPLES = 16  # a permutation that misses part of a model changes the outputs of (nearly) every input


def device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def eval_forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Eval-mode forward (BN uses its running statistics) that restores every submodule's train flag."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        return model(x.to(device_of(model)))
    finally:
        for m, training in flags:
            m.training = training


def check_same_function(model: nn.Module, aligned: nn.Module, x: torch.Tensor, method: str) -> None:
    """Raise if `aligned` and `model` differ in eval mode by more than 1e-4 of the logits' scale on the first
    CHECK_EXAMPLES inputs of `x`."""
    x = x[:CHECK_EXAMPLES]
    y, y_aligned = eval_forward(model, x), eval_forward(aligned, x)
    scale = max(1.0, y.abs().max().item())
    if not torch.allclose(y_aligned, y, rtol=1e-4, atol=1e-4 * scale):
        raise RuntimeError(
            f"alignment ({method}) changed the model's function (max abs diff "
            f"{(y_aligned - y).abs().max().item():.3g}); it must have missed part of this architecture")
