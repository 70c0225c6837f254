"""Loss and accuracy of a model on a whole split."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from ..data import ImageSet, Splits


def summed_loss_and_hits(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed cross-entropy and number of correct predictions of a batch.

    logsumexp − target logit is cross-entropy; on the CPU it runs about 4x faster than F.cross_entropy,
    whose log_softmax is slow for the 10-class last dimension."""
    loss = torch.logsumexp(logits, 1).sum() - logits.gather(1, y[:, None]).sum()
    return loss, (logits.argmax(1) == y).sum()


@torch.no_grad()
def evaluate_many(forward: Callable[[torch.Tensor], Iterable[torch.Tensor]], data: ImageSet,
                  batch_size: int = 2000) -> list[tuple[float, float]]:
    """Mean cross-entropy and accuracy of each of the logits `forward(batch)` yields, in one pass over `data`."""
    loss_sum, correct, n = None, None, 0
    for xb, yb in data.batches(batch_size):
        losses, hits = zip(*(summed_loss_and_hits(logits, yb) for logits in forward(xb)))
        losses, hits = torch.stack(losses).double(), torch.stack(hits)
        loss_sum = losses if loss_sum is None else loss_sum + losses
        correct = hits if correct is None else correct + hits
        n += yb.shape[0]
    return [(loss / n, hits / n) for loss, hits in zip(loss_sum.tolist(), correct.tolist())]


def evaluate(model: nn.Module, data: ImageSet, batch_size: int = 2000) -> tuple[float, float]:
    """Mean cross-entropy and accuracy in eval mode."""
    model.eval()
    return evaluate_many(lambda xb: (model(xb),), data, batch_size)[0]


def evaluate_splits(model: nn.Module, splits: Splits, names=("train", "val", "test")) -> dict[str, float]:
    out = {}
    for name in names:
        loss, acc = evaluate(model, getattr(splits, name))
        out[f"{name}_loss"], out[f"{name}_acc"] = loss, acc
    return out
