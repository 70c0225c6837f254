"""The dataset registry: one file per source format, each dataset an entry in DATASETS (the interface is described
in base.py). Adding a dataset is one new entry.

Roots: `data_roots.<name>` if the config sets it, else `data_root` (a torchvision-style root holding each
dataset's standard folder: FashionMNIST/raw, MNIST/raw, cifar-10-batches-py, cifar-100-python, imagenet), else
the dataset's system copy (Debian's Fashion-MNIST), else a download when `allow_download` is set.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from .ag_news import AG_NEWS
from .augment import Augment
from .base import DataSettings, root_for
from .cifar import CIFAR10, CIFAR100
from .folder import IMAGENET, FolderSet
from .idx import FASHION_MNIST, MNIST
from .spec import DataError, DatasetSpec
from .splits import ImageSet, Splits, batch_bounds, epoch_order, make_splits, read_prepared
from .synthetic import SYNTHETIC
from .synthetic_text import SYNTHETIC_TEXT
from .tokens import TokenSet

__all__ = ["DATASETS", "Augment", "DataError", "DataInput", "DataSettings", "DatasetSpec", "FolderSet", "ImageSet",
           "Splits", "TokenSet", "batch_bounds", "configured_dataset", "data_input", "data_settings", "dataset",
           "dataset_from_stem", "dataset_spec", "epoch_order", "load_dataset", "load_splits", "make_splits",
           "read_prepared", "root_for"]

DATASETS = {
    "mnist": MNIST,
    "fashion_mnist": FASHION_MNIST,
    "cifar10": CIFAR10,
    "cifar100": CIFAR100,
    "imagenet": IMAGENET,
    "synthetic": SYNTHETIC,
    "ag_news": AG_NEWS,
    "synthetic_text": SYNTHETIC_TEXT,
}


def dataset(name: str):
    """The registry entry of a dataset, or a DataError naming the choices."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    return DATASETS[name]


def configured_dataset(name: str, data_cfg: dict | None = None):
    """The entry as an experiment's `data` section sets it up (the synthetic datasets' settings, a text
    dataset's vocabulary)."""
    return dataset(name).configured(data_cfg or {})


def data_settings(name: str, data_cfg: dict | None = None) -> DataSettings:
    """The experiment's `data` section with the dataset's defaults filled in."""
    return DataSettings.of(configured_dataset(name, data_cfg).spec, data_cfg or {})


def dataset_spec(name: str, data_cfg: dict | None = None) -> DatasetSpec:
    """What the models are built from: image shape, classes, and the mean/std the data is normalised with."""
    return data_settings(name, data_cfg).spec


def dataset_from_stem(stem: str):
    """The entry whose prepared file is `resources/<stem>.pt` (the data rules' `dataset` wildcard)."""
    return dataset(stem.split("-", 1)[0]).from_stem(stem)


def load_dataset(name: str, data_root: str | None = None, allow_download: bool = False,
                 data_cfg: dict | None = None) -> dict[str, torch.Tensor]:
    """Stage into a temporary folder and read: {'train_x','train_y','test_x','test_y'} (in-memory datasets)."""
    entry = configured_dataset(name, data_cfg)
    with tempfile.TemporaryDirectory(prefix="starlight-data-") as tmp:
        return entry.read(entry.stage(tmp, data_root, allow_download))


def load_splits(path: str | Path, name: str, data_cfg: dict) -> Splits:
    """The splits an experiment's `data` section describes, from its prepared file (or, streamed, its folder)."""
    return configured_dataset(name, data_cfg).load_splits(path, data_settings(name, data_cfg))


@dataclass(frozen=True)
class DataInput:
    """What the jobs of an experiment read, and whether it can be had."""

    path: str | None  # resources/<stem>.pt, or a streamed dataset's folder (None while that folder is missing)
    problem: str | None  # why the data cannot be provided (names the files and the ways); None when it can


def data_input(name: str, data_cfg: dict, data_root: str | None = None, data_roots: dict | None = None,
               allow_download: bool = False, resources: str = "resources") -> DataInput:
    entry = configured_dataset(name, data_cfg)
    root = root_for(name, data_root, data_roots)
    if entry.materialised:
        path = f"{resources}/{entry.file_stem}.pt"
        if Path(path).exists():
            return DataInput(path, None)
    else:
        folder = entry.locate(root)
        path = str(folder) if folder else None
    try:
        entry.check_available(root, allow_download)
    except DataError as err:
        return DataInput(path, str(err))
    return DataInput(path, None)
