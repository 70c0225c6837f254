"""CIFAR-10 and CIFAR-100 in the python-pickle format of the official archives (what torchvision downloads):
`cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}` and `cifar-100-python/{train,test,meta}`.

Each batch file is a pickled dict: `data`, uint8 [N, 3072] (the red, green and blue 32x32 planes of each image,
row-major), and `labels` (CIFAR-10) or `fine_labels` (CIFAR-100). We read them ourselves rather than through
torchvision's CIFAR classes: those check the md5 sums of the real files, and use an unrestricted unpickler.
Ours admits only what the format holds (a dict, lists, strings and numpy arrays), and checks shapes, dtype and
label range instead of checksums. Downloads (only with `allow_download`) go through torchvision, md5-checked.
"""

from __future__ import annotations

import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .base import InMemoryDataset, check_folder, how_to_provide
from .spec import DataError, DatasetSpec

# The globals a CIFAR pickle may name: numpy's array reconstruction, and the latin-1 codec protocol 2 uses for
# bytes. Anything else (os.system, ...) is refused before it could run.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of the CIFAR format")
        return super().find_class(module, name)


def read_batch(path: Path) -> dict:
    """One pickled batch file, as torchvision reads it (latin-1 for the Python 2 strings), but restricted."""
    with open(path, "rb") as f:
        batch = _BatchUnpickler(f, encoding="latin1").load()
    if not isinstance(batch, dict):
        raise DataError(f"{path} holds a {type(batch).__name__}, not a CIFAR batch (a dict)")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}


@dataclass(frozen=True)
class CifarDataset(InMemoryDataset):
    spec: DatasetSpec
    title: str
    folder: str  # the archive's folder: cifar-10-batches-py or cifar-100-python
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    label_key: str
    torchvision_class: str  # downloads the archive (md5-checked) when allowed

    @property
    def files(self) -> tuple[str, ...]:
        return self.train_files + self.test_files

    @property
    def how_to_provide(self) -> str:
        return how_to_provide(self.title, self.spec.name, f"{self.folder}/{{{','.join(self.files)}}}")

    def _find(self, root: Path) -> Path | None:
        """The folder holding the batch files: `<root>/<folder>`, or the root itself."""
        for candidate in (root / self.folder, root):
            if all((candidate / name).is_file() for name in self.files):
                return candidate
        return None

    def check_available(self, data_root: str | None, allow_download: bool) -> None:
        if data_root:
            root = check_folder(data_root, self.how_to_provide)
            if self._find(root) is None:
                raise DataError(f"data_root {data_root!r} holds no {self.title} batch files (expected "
                                f"{self.folder}/{{{','.join(self.files)}}}). {self.how_to_provide}")
        elif not allow_download:
            raise DataError(f"{self.title} not found: no `data_root` set and `allow_download` is false. "
                            f"{self.how_to_provide}")

    def stage(self, dest: str | Path, data_root: str | None = None, allow_download: bool = False) -> Path:
        """Copy the batch files into `dest/<folder>`, or download the archive there."""
        dest = Path(dest)
        self.check_available(data_root, allow_download)
        if data_root:
            src = self._find(Path(data_root))
            (dest / self.folder).mkdir(parents=True, exist_ok=True)
            for name in self.files:
                shutil.copyfile(src / name, dest / self.folder / name)
            return dest
        import torchvision.datasets

        try:
            getattr(torchvision.datasets, self.torchvision_class)(str(dest), train=True, download=True)
        except Exception as exc:
            raise DataError(f"could not download {self.title}: {exc}. {self.how_to_provide}") from exc
        return dest

    def _read_split(self, folder: Path, names: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = [], []
        c, h, w = self.spec.shape
        for name in names:
            path = folder / name
            try:
                batch = read_batch(path)
                data, targets = batch["data"], batch[self.label_key]
            except (OSError, EOFError, pickle.UnpicklingError, KeyError, ValueError, TypeError) as exc:
                raise DataError(f"could not read {self.title} batch {path}: {exc!r}. {self.how_to_provide}") from exc
            if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.shape[1:] == (c * h * w,)):
                raise DataError(f"{path}: `data` must be uint8 [N, {c * h * w}], got "
                                f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}")
            targets = torch.as_tensor(np.asarray(targets, dtype=np.int64))
            if targets.shape != (data.shape[0],) or targets.min() < 0 or targets.max() >= self.spec.n_classes:
                raise DataError(f"{path}: `{self.label_key}` must hold {data.shape[0]} labels in "
                                f"0..{self.spec.n_classes - 1}")
            images.append(torch.from_numpy(data.reshape(-1, c, h, w)))
            labels.append(targets)
        return torch.cat(images), torch.cat(labels)

    def read(self, staged: str | Path) -> dict[str, torch.Tensor]:
        """Uint8 images [N,3,32,32] and int64 labels of the staged batch files."""
        folder = self._find(Path(staged))
        if folder is None:
            raise DataError(f"{staged} holds no {self.folder}/ with {', '.join(self.files)}. {self.how_to_provide}")
        train_x, train_y = self._read_split(folder, self.train_files)
        test_x, test_y = self._read_split(folder, self.test_files)
        return {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}


# CIFAR defaults follow the paper's reference code: ImageNet normalization, random crop (padding 4) and flip,
# 45k/5k train/val. `data.normalization: dataset` selects the CIFAR statistics below instead.
CIFAR10 = CifarDataset(
    spec=DatasetSpec("cifar10", (3, 32, 32), 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), 50000, 10000,
                     val_size=5000, augment=True, normalization="imagenet"),
    title="CIFAR-10", folder="cifar-10-batches-py", train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
    test_files=("test_batch",), label_key="labels", torchvision_class="CIFAR10",
)

CIFAR100 = CifarDataset(
    spec=DatasetSpec("cifar100", (3, 32, 32), 100, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), 50000,
                     10000, val_size=5000, augment=True, normalization="imagenet"),
    title="CIFAR-100", folder="cifar-100-python", train_files=("train",), test_files=("test",),
    label_key="fine_labels", torchvision_class="CIFAR100",
)
