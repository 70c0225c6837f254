"""In-memory splits: uint8 images on the training device, normalised batch by batch, in a seeded order per epoch.

An `ImageSet` is what the rest of the package sees of one split: its length, its evaluation batches (in order,
never augmented), the shuffled and (for the training split, if configured) augmented training batches of an
epoch (a pure function of (seed, epoch), so a resumed run sees the same batches), the normalised images at given
indices (BN re-estimation, alignment examples) and seeded subsets of itself. Streamed datasets (ImageNet,
folder.py) offer the same interface.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from .augment import Augment
from .spec import DatasetSpec

Batch = tuple[torch.Tensor, torch.Tensor]


def batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """[start, stop) of each training batch; a last batch of a single sample joins the one before it (a batch of
    one has no batch statistics, and BatchNorm in train mode refuses it)."""
    bounds = [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The CPU generator of one epoch's draws: first the data order, then any augmentation."""
    return torch.Generator().manual_seed(seed * 100_003 + epoch)


def epoch_order(n: int, seed: int, epoch: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The data order of one epoch: a pure function of (seed, epoch), so a resumed run sees the same order."""
    return torch.randperm(n, generator=epoch_generator(seed, epoch)).to(device)


def seeded_subset(n: int, size: int, seed: int) -> torch.Tensor:
    """`size` of the indices 0..n-1, drawn by `seed`, in increasing order."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:size].sort().values


def normalise(images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """uint8 [B,C,H,W] -> float, standardised per channel. In place on the one float copy: the same values as
    `((x / 255) - mean) / std` out of place, at half the cost of allocating a tensor per operation (for a small
    model the batch's normalisation is a tenth of its training step)."""
    x = images.to(torch.float32, copy=True).div_(255.0)  # a copy even of float input, which stays as it is
    if len(mean) == 1:
        return x.sub_(mean[0]).div_(std[0])
    mean_t = torch.tensor(mean, device=x.device).view(-1, 1, 1)
    std_t = torch.tensor(std, device=x.device).view(-1, 1, 1)
    return x.sub_(mean_t).div_(std_t)


@dataclass
class ImageSet:
    """One split: uint8 images [N,C,H,W] and int64 labels, with the per-channel mean and std that normalise them,
    and the augmentation of its training batches (None: none)."""

    images: torch.Tensor
    labels: torch.Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: Augment | None = None
    # every image normalised, made on first use by the batches that are not augmented (a copy of the set in
    # float32: each later batch is then one gather, or a view, instead of a conversion and three passes)
    _normalised_all: torch.Tensor | None = field(default=None, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return self.labels.shape[0]

    @property
    def device(self) -> torch.device:
        return self.images.device

    def to(self, device: torch.device | str) -> ImageSet:
        return replace(self, images=self.images.to(device), labels=self.labels.to(device))

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 -> float, standardised per channel."""
        return normalise(images, self.mean, self.std)

    def normalised(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """The normalised images at `idx` (all of them when None); never augmented."""
        return self.normalise(self.images if idx is None else self.images[idx.to(self.device)])

    def head(self, n: int) -> torch.Tensor:
        """The first `n` normalised images (at most all of them): examples for tracing and checks."""
        return self.normalise(self.images[:n])

    def subset(self, size: int | None, seed: int) -> ImageSet:
        """A seeded subset of `size` images in their original order (the whole set when `size` is None or not
        smaller): a smaller evaluation set that behaves like this one."""
        if size is None or size >= len(self):
            return self
        idx = seeded_subset(len(self), size, seed).to(self.device)
        return replace(self, images=self.images[idx], labels=self.labels[idx])

    def _all_normalised(self) -> torch.Tensor:
        if self._normalised_all is None or self._normalised_all.device != self.images.device:
            self._normalised_all = self.normalise(self.images)
        return self._normalised_all

    def batches(self, batch_size: int) -> Iterator[Batch]:
        """Evaluation batches, in order, never augmented."""
        images = self._all_normalised()
        for start in range(0, len(self), batch_size):
            yield images[start:start + batch_size], self.labels[start:start + batch_size]

    def steps_per_epoch(self, batch_size: int) -> int:
        return len(batch_bounds(len(self), batch_size))

    def epoch(self, batch_size: int, seed: int, epoch: int) -> Iterator[Batch]:
        """The training batches of one epoch, shuffled and augmented by draws that depend on (seed, epoch) only."""
        g = epoch_generator(seed, epoch)
        order = torch.randperm(len(self), generator=g).to(self.device)
        draws = self.augment.draw(len(self), g).to(self.device) if self.augment else None
        normalised = None if draws is not None else self._all_normalised()
        for start, stop in batch_bounds(len(self), batch_size):
            idx = order[start:stop]  # index_select gathers rows about twice as fast as x[idx] on the CPU
            if normalised is not None:
                yield normalised.index_select(0, idx), self.labels.index_select(0, idx)
                continue
            images = self.augment.apply(self.images.index_select(0, idx), draws[start:stop])
            yield self.normalise(images), self.labels.index_select(0, idx)


@dataclass
class Splits:
    """The train/val/test splits (ImageSets or streamed sets) and the spec of the data they hold: the models are
    built for its shape and classes."""

    train: ImageSet
    val: ImageSet
    test: ImageSet
    spec: DatasetSpec | None = None

    def to(self, device: torch.device | str) -> Splits:
        return Splits(self.train.to(device), self.val.to(device), self.test.to(device), self.spec)


def _channels_first(images: torch.Tensor) -> torch.Tensor:
    """[N,H,W] (one channel) -> [N,1,H,W]; [N,C,H,W] stays as it is (the prepared files' two layouts)."""
    return images.unsqueeze(1) if images.dim() == 3 else images


def split_indices(n_train: int, n_test: int, val_size: int, split_seed: int, train_subset: int | None = None,
                  test_subset: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train, val, test) indices: a seeded train/val split of the training set; optional seeded subsets."""
    if val_size >= n_train:
        raise ValueError(f"data.val_size={val_size} must be smaller than the training set ({n_train})")
    perm = torch.randperm(n_train, generator=torch.Generator().manual_seed(split_seed))
    val_idx, train_idx = perm[:val_size], perm[val_size:]
    if train_subset is not None:
        train_idx = train_idx[:train_subset]
    test_idx = torch.arange(n_test)
    if test_subset is not None:
        test_idx = torch.randperm(n_test, generator=torch.Generator().manual_seed(split_seed))[:test_subset]
        test_idx = test_idx.sort().values
    return train_idx, val_idx, test_idx


def make_splits(raw: dict[str, torch.Tensor], spec: DatasetSpec, val_size: int, split_seed: int,
                train_subset: int | None = None, test_subset: int | None = None,
                augment: Augment | None = None) -> Splits:
    """Seeded train/val split of the training set; optional seeded subsets for small runs. Only the training
    split is augmented."""
    train_idx, val_idx, test_idx = split_indices(raw["train_x"].shape[0], raw["test_x"].shape[0], val_size,
                                                 split_seed, train_subset, test_subset)

    def subset(x: str, y: str, idx: torch.Tensor, augment: Augment | None = None) -> ImageSet:
        return ImageSet(_channels_first(raw[x][idx]), raw[y][idx].clone(), spec.mean, spec.std, augment)

    return Splits(subset("train_x", "train_y", train_idx, augment), subset("train_x", "train_y", val_idx),
                  subset("test_x", "test_y", test_idx), spec)


def read_prepared(dataset_file: str | Path) -> dict[str, torch.Tensor]:
    """Memory-mapped: the splits copy out the images they take, so nothing reads the file twice."""
    return torch.load(dataset_file, weights_only=True, mmap=True)
