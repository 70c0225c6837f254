"""Dataset materialisation and in-memory batching.

Fashion-MNIST is read from a user-given root if the config sets one, else from Debian's
`dataset-fashion-mnist` package (/usr/share/datasets/fashion-mnist), else fetched by torchvision's
downloader when allowed.
Debian recompressed the files (their checksums differ from torchvision's), so we decompress the raw
`*-ubyte.gz` ourselves and let torchvision parse them with `download=False`.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

DATASETS = ("fashion_mnist",)
DEBIAN_ROOTS = {"fashion_mnist": Path("/usr/share/datasets/fashion-mnist")}
RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
# Per-channel statistics of the Fashion-MNIST training set.
MEAN, STD = 0.2860, 0.3530
HOW_TO_PROVIDE = (
    "Provide Fashion-MNIST in one of these ways: install Debian's package "
    "(`apt-get install dataset-fashion-mnist`), set `data_root` in the config to a folder holding "
    f"{', '.join(f + '[.gz]' for f in RAW_FILES)}, or set `allow_download: true` on a machine with internet."
)


class DataError(RuntimeError):
    """The dataset could not be found or read."""


def _find_raw(root: Path, name: str) -> Path | None:
    for candidate in (root / name, root / f"{name}.gz", root / "FashionMNIST" / "raw" / name,
                      root / "FashionMNIST" / "raw" / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _stage_raw(root: Path, staging: Path) -> bool:
    """Copy (decompressing) the four raw files from `root` into torchvision's layout under `staging`."""
    found = {name: _find_raw(root, name) for name in RAW_FILES}
    if not all(found.values()):
        return False
    raw = staging / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, src in found.items():
        opener = gzip.open if src.suffix == ".gz" else open
        with opener(src, "rb") as fin, open(raw / name, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    return True


def check_data_root(data_root: str | None) -> None:
    """Fail early (at workflow start) on a user-given data root that is missing or holds no dataset."""
    if not data_root:
        return
    root = Path(data_root)
    if not root.is_dir():
        raise DataError(f"data_root {str(root)!r} does not exist or is not a folder. {HOW_TO_PROVIDE}")
    missing = [name for name in RAW_FILES if _find_raw(root, name) is None]
    if missing:
        raise DataError(f"data_root {data_root!r} holds no Fashion-MNIST raw files (missing "
                        f"{', '.join(missing)}, optionally .gz). {HOW_TO_PROVIDE}")


def stage_fashion_mnist(dest: str | Path, data_root: str | None = None, allow_download: bool = False) -> Path:
    """Put the four raw files, decompressed, in torchvision's layout under `dest`.

    Searched: `data_root` if given (alone: silently reading another copy would hide a mistake), else
    Debian's package, else torchvision's downloader if allowed.
    """
    dest = Path(dest)
    if data_root:
        check_data_root(data_root)
        _stage_raw(Path(data_root), dest)
        return dest
    root = DEBIAN_ROOTS["fashion_mnist"]
    if root.is_dir() and _stage_raw(root, dest):
        return dest
    if not allow_download:
        raise DataError(f"Fashion-MNIST not found under {root}. {HOW_TO_PROVIDE}")
    from torchvision.datasets import FashionMNIST

    try:
        for train in (True, False):
            FashionMNIST(str(dest), train=train, download=True)
    except Exception as exc:
        raise DataError(f"could not download Fashion-MNIST: {exc}. {HOW_TO_PROVIDE}") from exc
    return dest


def read_staged(staged: str | Path) -> dict[str, torch.Tensor]:
    """Parse staged raw files with torchvision (no download) into uint8 images [N,28,28] and int64 labels."""
    from torchvision.datasets import FashionMNIST

    try:
        train = FashionMNIST(str(staged), train=True, download=False)
        test = FashionMNIST(str(staged), train=False, download=False)
    except Exception as exc:  # missing or corrupt files
        raise DataError(f"could not read Fashion-MNIST from {staged}: {exc}. {HOW_TO_PROVIDE}") from exc
    return {"train_x": train.data.clone(), "train_y": train.targets.clone(),
            "test_x": test.data.clone(), "test_y": test.targets.clone()}


def load_fashion_mnist(data_root: str | None = None, allow_download: bool = False) -> dict[str, torch.Tensor]:
    """Stage into a temporary folder and read: {'train_x','train_y','test_x','test_y'}."""
    with tempfile.TemporaryDirectory(prefix="starlight-data-") as tmp:
        return read_staged(stage_fashion_mnist(tmp, data_root, allow_download))


def check_dataset(name: str) -> None:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")


def load_dataset(name: str, data_root: str | None = None, allow_download: bool = False) -> dict[str, torch.Tensor]:
    check_dataset(name)
    return load_fashion_mnist(data_root, allow_download)


@dataclass
class Splits:
    """Normalised float images [N,1,H,W] and labels for the train / val / test splits."""

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


def _normalise(images: torch.Tensor) -> torch.Tensor:
    return ((images.float() / 255.0 - MEAN) / STD).unsqueeze(1)


def make_splits(raw: dict[str, torch.Tensor], val_size: int, split_seed: int,
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
        _normalise(raw["train_x"][train_idx]), raw["train_y"][train_idx].clone(),
        _normalise(raw["train_x"][val_idx]), raw["train_y"][val_idx].clone(),
        _normalise(raw["test_x"][test_idx]), raw["test_y"][test_idx].clone(),
    )


def load_splits(dataset_file: str | Path, data_cfg: dict) -> Splits:
    """Read the materialised dataset file and cut the splits described by an experiment's `data` section."""
    raw = torch.load(dataset_file, weights_only=True)
    return make_splits(raw, int(data_cfg["val_size"]), int(data_cfg["split_seed"]),
                       data_cfg.get("train_subset"), data_cfg.get("test_subset"))


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
