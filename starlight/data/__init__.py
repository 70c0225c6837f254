"""The dataset registry: one file per source format, each dataset an object with a `spec`, `stage`, `read`
and `check_root`. Adding a dataset is one new entry in DATASETS."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from .idx import FASHION_MNIST
from .spec import DataError, DatasetSpec
from .splits import ImageSet, Splits, batch_bounds, epoch_order, make_splits, read_prepared

__all__ = ["DATASETS", "DataError", "DatasetSpec", "ImageSet", "Splits", "batch_bounds", "dataset", "epoch_order",
           "load_dataset", "load_splits", "make_splits"]

DATASETS = {
    "fashion_mnist": FASHION_MNIST,
}


def dataset(name: str):
    """The registry entry of a dataset, or a DataError naming the choices."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    return DATASETS[name]


def load_dataset(name: str, data_root: str | None = None, allow_download: bool = False) -> dict[str, torch.Tensor]:
    """Stage into a temporary folder and read: {'train_x','train_y','test_x','test_y'}."""
    entry = dataset(name)
    with tempfile.TemporaryDirectory(prefix="starlight-data-") as tmp:
        return entry.read(entry.stage(tmp, data_root, allow_download))


def load_splits(dataset_file: str | Path, name: str, data_cfg: dict) -> Splits:
    """Read the prepared dataset file and cut the splits described by an experiment's `data` section."""
    return make_splits(read_prepared(dataset_file), dataset(name).spec, int(data_cfg["val_size"]),
                       int(data_cfg["split_seed"]), data_cfg.get("train_subset"), data_cfg.get("test_subset"))
