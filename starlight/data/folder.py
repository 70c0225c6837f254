"""ImageNet from an ImageFolder layout (`train/<class>/*`, `val/<class>/*`), streamed: never one tensor file.

Images are decoded and transformed in DataLoader worker processes (`data.num_workers`, default the CPUs this
job may use) into uint8 tensors, moved to the training device and normalised there, as an ImageSet does. The
training transform is the standard RandomResizedCrop(224) + horizontal flip (each switchable with
`data.augment.crop`/`flip`), evaluation is Resize(256) + CenterCrop(224). An epoch's order and every image's
augmentation draws come from the epoch's seeded generator: each image's transform runs under its own drawn
seed, so the batches are a pure function of (seed, epoch), whatever the number of workers.
The training split's `val` part is cut from `train/` (data.val_size, split_seed); `val/` is the test split.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from .base import DataSettings, check_folder, how_to_provide
from .spec import IMAGENET_MEAN, IMAGENET_STD, DataError, DatasetSpec
from .splits import Batch, Splits, batch_bounds, epoch_generator, normalise, seeded_subset, split_indices

Sample = tuple[str, int]  # (image file, label)
CPU = torch.device("cpu")


class _Images(Dataset):
    """Decodes one image and transforms it; a key (index, seed) runs the transform under that seed."""

    def __init__(self, samples: list[Sample], transform):
        self.samples, self.transform = samples, transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, int]:
        from torchvision.datasets.folder import default_loader

        index, seed = key if isinstance(key, tuple) else (key, None)
        path, label = self.samples[index]
        image = default_loader(path)  # PIL, RGB
        if seed is None:
            return self.transform(image), label
        with torch.random.fork_rng(devices=[]):  # the caller's global RNG stays untouched
            torch.manual_seed(seed)
            return self.transform(image), label


def _transform(size: int, resize: int, random_crop: bool, flip: bool):
    from torchvision.transforms import v2

    steps = [v2.RandomResizedCrop(size, antialias=True)] if random_crop else [v2.Resize(resize, antialias=True),
                                                                              v2.CenterCrop(size)]
    if flip:
        steps.append(v2.RandomHorizontalFlip())
    return v2.Compose([*steps, v2.PILToTensor()])


@dataclass
class FolderSet:
    """One split of an image folder, with the same interface as an ImageSet."""

    samples: list[Sample]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    size: int  # side of the square crop the model sees
    resize: int  # evaluation: shorter side resized to this, then the centre crop
    num_workers: int = 0
    random_crop: bool = False  # training batches: RandomResizedCrop instead of the evaluation crop
    flip: bool = False
    device: torch.device = CPU

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def labels(self) -> torch.Tensor:
        return torch.tensor([label for _, label in self.samples], device=self.device)

    def to(self, device: torch.device | str) -> FolderSet:
        return replace(self, device=torch.device(device))

    def _batches(self, keys: list, transform, batch_bounds_: list[tuple[int, int]]) -> Iterator[Batch]:
        loader = DataLoader(_Images(self.samples, transform), batch_sampler=[keys[a:b] for a, b in batch_bounds_],
                            num_workers=self.num_workers, pin_memory=self.device.type == "cuda")
        for images, labels in loader:
            images = images.to(self.device, non_blocking=True)
            yield normalise(images, self.mean, self.std), labels.to(self.device, non_blocking=True)

    def _eval_transform(self):
        return _transform(self.size, self.resize, False, False)

    def batches(self, batch_size: int) -> Iterator[Batch]:
        """Evaluation batches, in order, never augmented."""
        bounds = [(start, min(start + batch_size, len(self))) for start in range(0, len(self), batch_size)]
        return self._batches(list(range(len(self))), self._eval_transform(), bounds)

    def steps_per_epoch(self, batch_size: int) -> int:
        return len(batch_bounds(len(self), batch_size))

    def epoch(self, batch_size: int, seed: int, epoch: int) -> Iterator[Batch]:
        """The training batches of one epoch: order and augmentation drawn from (seed, epoch) alone."""
        g = epoch_generator(seed, epoch)
        order = torch.randperm(len(self), generator=g)
        image_seeds = torch.randint(0, 2**62, (len(self),), generator=g)
        keys = list(zip(order.tolist(), image_seeds.tolist()))
        transform = _transform(self.size, self.resize, self.random_crop, self.flip)
        return self._batches(keys, transform, batch_bounds(len(self), batch_size))

    def normalised(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """The normalised images at `idx` (all of them when None), evaluation transform."""
        keys = list(range(len(self))) if idx is None else idx.tolist()
        batches = self._batches(keys, self._eval_transform(), [(a, min(a + 256, len(keys)))
                                                               for a in range(0, len(keys), 256)])
        return torch.cat([x for x, _ in batches])

    def head(self, n: int) -> torch.Tensor:
        """The first `n` normalised images (at most all of them): examples for tracing and checks."""
        return self.normalised(torch.arange(min(n, len(self))))

    def subset(self, size: int | None, seed: int) -> FolderSet:
        """A seeded subset of `size` images in their original order (the whole set when None or not smaller)."""
        if size is None or size >= len(self):
            return self
        return replace(self, samples=[self.samples[i] for i in seeded_subset(len(self), size, seed).tolist()])


@dataclass(frozen=True)
class FolderDataset:
    spec: DatasetSpec
    title: str
    folder: str  # its name under a shared data_root
    materialised = False

    @property
    def how_to_provide(self) -> str:
        holding = f"{self.folder}/train/<class>/* and {self.folder}/val/<class>/*, or train/ and val/ themselves"
        return (how_to_provide(self.title, self.spec.name, holding, can_download=False) +
                f" {self.title} is never downloaded (`allow_download` does not apply): its licence asks every user "
                f"to register at image-net.org; put the validation images in class folders like the training ones.")

    def configured(self, data_cfg: dict) -> FolderDataset:
        return self

    @property
    def file_stem(self) -> str:
        return self.spec.name

    def locate(self, data_root: str | None) -> Path | None:
        """The folder holding train/ and val/, or None."""
        if not data_root:
            return None
        for candidate in (Path(data_root) / self.folder, Path(data_root)):
            if (candidate / "train").is_dir() and (candidate / "val").is_dir():
                return candidate
        return None

    def check_available(self, data_root: str | None, allow_download: bool) -> None:
        if not data_root:
            raise DataError(f"{self.title} not found: no `data_root` set. {self.how_to_provide}")
        check_folder(data_root, self.how_to_provide)
        folder = self.locate(data_root)
        if folder is None:
            raise DataError(f"data_root {data_root!r} holds no {self.title} folders (expected train/ and val/ "
                            f"under {str(Path(data_root) / self.folder)!r} or {data_root!r}). {self.how_to_provide}")
        classes = sum(1 for entry in (folder / "train").iterdir() if entry.is_dir())
        if classes != self.spec.n_classes:
            raise DataError(f"{folder / 'train'} has {classes} class folders, {self.title} has {self.spec.n_classes}")

    def _samples(self, root: Path) -> tuple[list[Sample], list[Sample]]:
        from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

        try:
            classes, class_to_idx = find_classes(str(root / "train"))
            val_classes, _ = find_classes(str(root / "val"))
            if val_classes != classes:
                raise DataError(f"{root / 'val'} has {len(val_classes)} class folders that differ from the "
                                f"{len(classes)} in {root / 'train'}")
            if len(classes) != self.spec.n_classes:
                raise DataError(f"{root / 'train'} has {len(classes)} class folders, {self.title} has "
                                f"{self.spec.n_classes}")
            return tuple(make_dataset(str(root / split), class_to_idx, IMG_EXTENSIONS) for split in ("train", "val"))
        except (FileNotFoundError, OSError) as exc:
            raise DataError(f"could not list {self.title} under {root}: {exc}. {self.how_to_provide}") from exc

    def load_splits(self, path: str | Path, settings: DataSettings) -> Splits:
        train_samples, test_samples = self._samples(Path(path))
        train_idx, val_idx, test_idx = split_indices(len(train_samples), len(test_samples), settings.val_size,
                                                     settings.split_seed, settings.train_subset,
                                                     settings.test_subset)
        spec, augment = settings.spec, settings.augment
        size = spec.shape[1]
        common = {"mean": spec.mean, "std": spec.std, "size": size, "resize": round(size * 256 / 224),
                  "num_workers": settings.num_workers}

        def split(samples: list[Sample], idx: torch.Tensor, **kwargs) -> FolderSet:
            return FolderSet([samples[i] for i in idx.tolist()], **common, **kwargs)

        train = split(train_samples, train_idx, random_crop=bool(augment and augment.crop_padding),
                      flip=bool(augment and augment.flip))
        return Splits(train, split(train_samples, val_idx), split(test_samples, test_idx), spec)


IMAGENET = FolderDataset(
    spec=DatasetSpec("imagenet", (3, 224, 224), 1000, IMAGENET_MEAN, IMAGENET_STD, 1281167, 50000, val_size=10000,
                     augment=True),
    title="ImageNet", folder="imagenet",
)
