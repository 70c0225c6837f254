"""Loss and accuracy of a model on a whole split."""

from __future__ import annotations

import torch
from torch import nn


def summed_loss_and_hits(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed cross-entropy and number of correct predictions of a batch.

    logsumexp − target logit is cross-entropy; on the CPU it runs about 4x faster than F.cross_entropy,
    whose log_softmax is slow for the 10-class last dimension."""
    loss = torch.logsumexp(logits, 1).sum() - logits.gather(1, y[:, None]).sum()
    return loss, (logits.argmax(1) == y).sum()


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2000) -> tuple[float, float]:
    """Mean cross-entropy and accuracy in eval mode."""
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
    correct = torch.zeros((), dtype=torch.long, device=x.device)
    for start in range(0, x.shape[0], batch_size):
        loss, hits = summed_loss_and_hits(model(x[start:start + batch_size]), y[start:start + batch_size])
        loss_sum += loss
        correct += hits
    n = x.shape[0]
    return loss_sum.item() / n, correct.item() / n


def evaluate_splits(model: nn.Module, splits, names=("train", "val", "test")) -> dict[str, float]:
    out = {}
    for name in names:
        loss, acc = evaluate(model, *splits.split(name))
        out[f"{name}_loss"], out[f"{name}_acc"] = loss, acc
    return out
