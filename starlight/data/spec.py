"""What a dataset is, as the rest of the package sees it: shapes, classes, normalisation, sizes."""

from __future__ import annotations

from dataclasses import dataclass


class DataError(RuntimeError):
    """The dataset could not be found or read."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    shape: tuple[int, int, int]  # (C, H, W) of one image
    n_classes: int
    mean: tuple[float, ...]  # per channel, of images scaled to [0, 1]
    std: tuple[float, ...]
    train_size: int
    test_size: int
