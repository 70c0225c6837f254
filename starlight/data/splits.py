"""In-memory splits: uint8 images on the training device, normalised batch by batch, in a seeded order per epoch.

An `ImageSet` is what the rest of the package sees of one split: its length, its evaluation batches (in order,
never augmented), the shuffled training batches of an epoch (a pure function of (seed, epoch), so a resumed run
sees the same batches), and the normalised images at given indices (BN re-estimation, alignment examples).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from .spec import DatasetSpec

Batch = tuple[torch.Tensor, torch.Tensor]


def batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """[start, stop) of each training batch; a last batch of a single sample joins the one before it (a batch of
    one has no batch statistics, and BatchNorm in train mode refuses it)."""
    bounds = [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def epoch_order(n: int, seed: int, epoch: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The data order of one epoch: a pure function of (seed, epoch), so a resumed run sees the same order."""
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=g).to(device)


@dataclass
class ImageSet:
    """One split: uint8 images [N,C,H,W] and int64 labels, with the dataset's per-channel mean and std."""

    images: torch.Tensor
    labels: torch.Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __len__(self) -> int:
        return self.labels.shape[0]

    @property
    def device(self) -> torch.device:
        return self.images.device

    def to(self, device: torch.device | str) -> ImageSet:
        return ImageSet(self.images.to(device), self.labels.to(device), self.mean, self.std)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 -> float, standardised per channel."""
        x = images.float() / 255.0
        if len(self.mean) == 1:
            return (x - self.mean[0]) / self.std[0]
        mean = torch.tensor(self.mean, device=x.device).view(-1, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(-1, 1, 1)
        return (x - mean) / std

    def normalised(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """The normalised images at `idx` (all of them when None)."""
        return self.normalise(self.images if idx is None else self.images[idx.to(self.device)])

    def head(self, n: int) -> torch.Tensor:
        """The first `n` normalised images (at most all of them): examples for tracing and checks."""
        return self.normalise(self.images[:n])

    def batches(self, batch_size: int) -> Iterator[Batch]:
        """Evaluation batches, in order."""
        for start in range(0, len(self), batch_size):
            yield self.normalise(self.images[start:start + batch_size]), self.labels[start:start + batch_size]

    def steps_per_epoch(self, batch_size: int) -> int:
        return len(batch_bounds(len(self), batch_size))

    def epoch(self, batch_size: int, seed: int, epoch: int) -> Iterator[Batch]:
        """The training batches of one epoch, shuffled by (seed, epoch)."""
        order = epoch_order(len(self), seed, epoch, self.device)
        for start, stop in batch_bounds(len(self), batch_size):
            idx = order[start:stop]  # index_select gathers rows about twice as fast as x[idx] on the CPU
            yield self.normalise(self.images.index_select(0, idx)), self.labels.index_select(0, idx)


@dataclass
class Splits:
    train: ImageSet
    val: ImageSet
    test: ImageSet

    def to(self, device: torch.device | str) -> Splits:
        return Splits(*(getattr(self, f.name).to(device) for f in fields(self)))


def _channels_first(images: torch.Tensor) -> torch.Tensor:
    """[N,H,W] (one channel) or [N,H,W,C] -> [N,C,H,W]."""
    return images.unsqueeze(1) if images.dim() == 3 else images.permute(0, 3, 1, 2).contiguous()


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

    def subset(x: str, y: str, idx: torch.Tensor) -> ImageSet:
        return ImageSet(_channels_first(raw[x][idx]), raw[y][idx].clone(), spec.mean, spec.std)

    return Splits(subset("train_x", "train_y", train_idx), subset("train_x", "train_y", val_idx),
                  subset("test_x", "test_y", test_idx))


def read_prepared(dataset_file: str | Path) -> dict[str, torch.Tensor]:
    """Memory-mapped: the splits copy out the images they take, so nothing reads the file twice."""
    return torch.load(dataset_file, weights_only=True, mmap=True)
