"""IDX-format datasets (MNIST, Fashion-MNIST): staged from a user-given root, a Debian package, or a download.

Searched: the dataset's root if the config sets one (`data_roots.<name>`, else `data_root`; alone: silently
reading another copy would hide a mistake), else Debian's package where there is one (`dataset-fashion-mnist`
puts the files under /usr/share/datasets/fashion-mnist; Debian does not package MNIST), else torchvision's
downloader when allowed. A root may hold the four raw files itself or in torchvision's layout
(`<root>/FashionMNIST/raw/`, `<root>/MNIST/raw/`). Debian recompressed the files (their checksums differ from
torchvision's), so we decompress the raw `*-ubyte.gz` ourselves and let torchvision parse them with
`download=False`.
"""

from __future__ import annotations

import gzip
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from .base import InMemoryDataset, check_folder, how_to_provide
from .spec import DataError, DatasetSpec

RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass(frozen=True)
class IdxDataset(InMemoryDataset):
    spec: DatasetSpec
    title: str  # as people write it, in messages
    torchvision_class: str  # the torchvision dataset that parses (and downloads) the files
    debian_package: str | None = None
    debian_root: Path | None = None

    @property
    def how_to_provide(self) -> str:
        holding = f"{', '.join(f + '[.gz]' for f in RAW_FILES)}, itself or in {self.torchvision_class}/raw/"
        return how_to_provide(self.title, self.spec.name, holding, debian_package=self.debian_package)

    def _find_raw(self, root: Path, name: str) -> Path | None:
        sub = root / self.torchvision_class / "raw"
        for candidate in (root / name, root / f"{name}.gz", sub / name, sub / f"{name}.gz"):
            if candidate.is_file():
                return candidate
        return None

    def _stage_raw(self, root: Path, staging: Path) -> bool:
        """Copy (decompressing) the four raw files from `root` into torchvision's layout under `staging`."""
        found = {name: self._find_raw(root, name) for name in RAW_FILES}
        if not all(found.values()):
            return False
        raw = staging / self.torchvision_class / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for name, src in found.items():
            opener = gzip.open if src.suffix == ".gz" else open
            with opener(src, "rb") as fin, open(raw / name, "wb") as fout:
                shutil.copyfileobj(fin, fout)
        return True

    def check_root(self, data_root: str) -> None:
        """Fail early (at workflow start) on a user-given data root that is missing or holds no dataset."""
        root = check_folder(data_root, self.how_to_provide)
        missing = [name for name in RAW_FILES if self._find_raw(root, name) is None]
        if missing:
            raise DataError(f"data_root {data_root!r} holds no {self.title} raw files (missing "
                            f"{', '.join(missing)}, optionally .gz). {self.how_to_provide}")

    def _in_debian_package(self) -> bool:
        return self.debian_root is not None and all(self._find_raw(self.debian_root, n) for n in RAW_FILES)

    def check_available(self, data_root: str | None, allow_download: bool) -> None:
        if data_root:
            self.check_root(data_root)
        elif not (self._in_debian_package() or allow_download):
            where = f" under {self.debian_root}" if self.debian_root else ""
            raise DataError(f"{self.title} not found{where} (no `data_root` set, `allow_download` is false). "
                            f"{self.how_to_provide}")

    def stage(self, dest: str | Path, data_root: str | None = None, allow_download: bool = False) -> Path:
        """Put the four raw files, decompressed, in torchvision's layout under `dest`."""
        dest = Path(dest)
        self.check_available(data_root, allow_download)
        if data_root:
            self._stage_raw(Path(data_root), dest)
            return dest
        if self._in_debian_package() and self._stage_raw(self.debian_root, dest):
            return dest
        import torchvision.datasets

        try:
            for train in (True, False):
                getattr(torchvision.datasets, self.torchvision_class)(str(dest), train=train, download=True)
        except Exception as exc:
            raise DataError(f"could not download {self.title}: {exc}. {self.how_to_provide}") from exc
        return dest

    def read(self, staged: str | Path) -> dict[str, torch.Tensor]:
        """Parse staged raw files with torchvision (no download) into uint8 images [N,H,W] and int64 labels."""
        import torchvision.datasets

        cls = getattr(torchvision.datasets, self.torchvision_class)
        try:
            train = cls(str(staged), train=True, download=False)
            test = cls(str(staged), train=False, download=False)
        except Exception as exc:  # missing or corrupt files
            raise DataError(f"could not read {self.title} from {staged}: {exc}. {self.how_to_provide}") from exc
        return {"train_x": train.data.clone(), "train_y": train.targets.clone(),
                "test_x": test.data.clone(), "test_y": test.targets.clone()}


FASHION_MNIST = IdxDataset(
    # Per-channel statistics of the Fashion-MNIST training set.
    spec=DatasetSpec("fashion_mnist", (1, 28, 28), 10, (0.2860,), (0.3530,), 60000, 10000, val_size=6000),
    title="Fashion-MNIST", torchvision_class="FashionMNIST", debian_package="dataset-fashion-mnist",
    debian_root=Path("/usr/share/datasets/fashion-mnist"),
)

MNIST = IdxDataset(
    spec=DatasetSpec("mnist", (1, 28, 28), 10, (0.1307,), (0.3081,), 60000, 10000, val_size=6000),
    title="MNIST", torchvision_class="MNIST",
)
