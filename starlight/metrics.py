"""Loss and accuracy of a model on a whole split."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2000) -> tuple[float, float]:
    """Mean cross-entropy and accuracy in eval mode."""
    model.eval()
    loss_sum, correct = 0.0, 0
    for start in range(0, x.shape[0], batch_size):
        logits = model(x[start:start + batch_size])
        target = y[start:start + batch_size]
        loss_sum += F.cross_entropy(logits, target, reduction="sum").item()
        correct += (logits.argmax(1) == target).sum().item()
    n = x.shape[0]
    return loss_sum / n, correct / n


def evaluate_splits(model: nn.Module, splits, names=("train", "val", "test")) -> dict[str, float]:
    out = {}
    for name in names:
        loss, acc = evaluate(model, *splits.split(name))
        out[f"{name}_loss"], out[f"{name}_acc"] = loss, acc
    return out
