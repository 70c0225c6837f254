"""In-memory train / val / test splits, and the seeded batch order of an epoch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .spec import DatasetSpec


@dataclass
class Splits:
    """Normalised float images [N,C,H,W] and labels for the train / val / test splits."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        return getattr(self, f"{name}_x"), getattr(self, f"{name}_y")

    def to(self, device: torch.device) -> Splits:
        return Splits(*(getattr(self, f).to(device) for f in self.__dataclass_fields__))


def normalise(images: torch.Tensor, spec: DatasetSpec) -> torch.Tensor:
    """uint8 [N,H,W] (one channel) or [N,H,W,C] -> float [N,C,H,W], standardised per channel."""
    x = images.float() / 255.0
    if x.dim() == 3:
        return ((x - spec.mean[0]) / spec.std[0]).unsqueeze(1)
    mean, std = torch.tensor(spec.mean), torch.tensor(spec.std)
    return ((x - mean) / std).permute(0, 3, 1, 2).contiguous()


def make_splits(raw: dict[str, torch.Tensor], spec: DatasetSpec, val_size: int, split_seed: int,
                train_subset: int | None = None, test_subset: int | None = None) -> Splits:
    """Seeded train/val split of the training set; optional seeded subsets for small runs."""
    n = raw["train_x"].shape[0]
    if val_size >= n:
        raise ValueError(f"data.val_size={val_size} must be smaller than the training set ({n})")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(split_seed))
    val_idx, train_idx = perm[:val_size], perm[val_size:]
    if train_subset is not None:
        train_idx = train_idx[:train_subset]
    test_idx = torch.arange(raw["test_x"].shape[0])
    if test_subset is not None:
        test_idx = torch.randperm(len(test_idx), generator=torch.Generator().manual_seed(split_seed))[:test_subset]
        test_idx = test_idx.sort().values
    return Splits(
        normalise(raw["train_x"][train_idx], spec), raw["train_y"][train_idx].clone(),
        normalise(raw["train_x"][val_idx], spec), raw["train_y"][val_idx].clone(),
        normalise(raw["test_x"][test_idx], spec), raw["test_y"][test_idx].clone(),
    )


def read_prepared(dataset_file: str | Path) -> dict[str, torch.Tensor]:
    return torch.load(dataset_file, weights_only=True)


def epoch_order(n: int, seed: int, epoch: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The data order of one epoch: a pure function of (seed, epoch), so a resumed run sees the same order."""
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=g).to(device)


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, order: torch.Tensor | None = None):
    """Yield (x, y) mini-batches, in `order` if given; the last, smaller batch is kept."""
    n = x.shape[0]
    for start in range(0, n, batch_size):
        if order is None:
            yield x[start:start + batch_size], y[start:start + batch_size]
        else:  # index_select gathers rows about twice as fast as x[idx] on the CPU
            idx = order[start:start + batch_size]
            yield x.index_select(0, idx), y.index_select(0, idx)
