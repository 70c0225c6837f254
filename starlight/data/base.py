"""What every dataset entry shares: the experiment's data settings resolved against the dataset's defaults, where
a dataset's files are looked for, and the in-memory path (stage raw files, read them into one tensor file, cut
the splits from it).

A registry entry offers:
- `spec` (DatasetSpec), `title` (as people write it), `materialised` (prepared into one tensor file, or streamed);
- `configured(data_cfg)`: the entry as an experiment's `data` section sets it up (the synthetic dataset's shape);
- `file_stem`: the name of its prepared file, `resources/<file_stem>.pt`; `from_stem(stem)` undoes it;
- `check_available(root, allow_download)`: a DataError naming the expected files and how to provide them;
- `stage(dest, root, allow_download)` and `read(staged)` (materialised) or `locate(root)` (streamed);
- `load_splits(path, settings)`: the experiment's Splits from the prepared file or the dataset's folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .augment import Augment
from .spec import DataError, DatasetSpec
from .splits import Splits, make_splits


@dataclass(frozen=True)
class DataSettings:
    """An experiment's `data` section with every null replaced by the dataset's default."""

    spec: DatasetSpec  # with the mean/std of the chosen normalization
    val_size: int
    split_seed: int = 0
    train_subset: int | None = None
    test_subset: int | None = None
    augment: Augment | None = None
    num_workers: int = 0  # streamed datasets only: DataLoader worker processes

    @classmethod
    def of(cls, spec: DatasetSpec, data_cfg: dict) -> DataSettings:
        workers = data_cfg.get("num_workers")
        if spec.input != "images":
            on = sorted(k for k in ("crop", "flip") if (data_cfg.get("augment") or {}).get(k))
            if on:
                raise DataError(f"data.augment.{on[0]}=true: {spec.name} holds {spec.input}, not images; crops "
                                f"and flips are for images")
        val_size = int(data_cfg.get("val_size") or spec.val_size)
        if val_size >= spec.train_size:
            raise DataError(f"data.val_size={val_size} must be smaller than {spec.name}'s {spec.train_size} "
                            f"training images")
        return cls(
            spec=spec.normalized_by(data_cfg.get("normalization")),
            val_size=val_size,
            split_seed=int(data_cfg.get("split_seed", 0)),
            train_subset=data_cfg.get("train_subset"),
            test_subset=data_cfg.get("test_subset"),
            augment=Augment.from_config(data_cfg.get("augment"), spec.augment),
            num_workers=len(os.sched_getaffinity(0)) if workers is None else int(workers),
        )


def root_for(name: str, data_root: str | None, data_roots: dict | None) -> str | None:
    """A dataset's root: its own entry in `data_roots`, else the shared `data_root` (None: neither is set)."""
    return (data_roots or {}).get(name) or data_root or None


def how_to_provide(title: str, name: str, holding: str, can_download: bool = True,
                   debian_package: str | None = None) -> str:
    """The ways to provide a dataset, for error messages: a local root, and a download where one exists."""
    ways = [f"install Debian's package (`apt-get install {debian_package}`)"] if debian_package else []
    ways.append(f"set `data_root` in the config to a folder holding {holding} (or `data_roots: {{{name}: "
                f"<folder>}}` for this dataset alone)")
    if can_download:
        ways.append("set `allow_download: true` on a machine with internet")
    if len(ways) == 1:
        return f"Provide {title} this way: {ways[0]}."
    return f"Provide {title} in one of these ways: " + "; ".join(f"({i}) {w}" for i, w in enumerate(ways, 1)) + "."


def check_folder(root: str, hint: str) -> Path:
    path = Path(root)
    if not path.is_dir():
        raise DataError(f"data_root {root!r} does not exist or is not a folder. {hint}")
    return path


class InMemoryDataset:
    """The entries whose images fit in memory: staged raw files are read into one tensor file
    {'train_x','train_y','test_x','test_y'} (uint8 images [N,H,W] or [N,C,H,W], int64 labels)."""

    materialised = True
    spec: DatasetSpec

    def configured(self, data_cfg: dict) -> InMemoryDataset:
        return self

    @property
    def file_stem(self) -> str:
        return self.spec.name

    def from_stem(self, stem: str) -> InMemoryDataset:
        if stem != self.file_stem:
            raise DataError(f"{stem!r} is not a prepared-file name of {self.spec.name}")
        return self

    def read(self, staged: str | Path) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def load_splits(self, path: str | Path, settings: DataSettings) -> Splits:
        raw = torch.load(path, weights_only=True)
        return make_splits(raw, settings.spec, settings.val_size, settings.split_seed, settings.train_subset,
                           settings.test_subset, settings.augment)
