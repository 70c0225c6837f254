"""What a dataset is, as the rest of the package sees it: shapes, classes, normalisation, sizes, and the defaults
of the config keys whose right value depends on the dataset (a `null` in the config's `data` section)."""

from __future__ import annotations

from dataclasses import dataclass, replace

# Per-channel statistics of the ImageNet training set; the paper's reference code also uses them for CIFAR.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NORMALIZATIONS = ("dataset", "imagenet")


class DataError(RuntimeError):
    """The dataset could not be found or read, or the data section does not fit it."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    shape: tuple[int, ...]  # (C, H, W) of one image, as the model sees it; text: (vocabulary size, length)
    n_classes: int
    mean: tuple[float, ...]  # per channel, of images scaled to [0, 1]
    std: tuple[float, ...]
    train_size: int
    test_size: int
    val_size: int = 5000  # default `data.val_size`: held out of the training set
    augment: bool = False  # default of `data.augment.crop` and `data.augment.flip`
    normalization: str = "dataset"  # default `data.normalization`: the dataset's own statistics or ImageNet's
    input: str = "images"  # what the models read: "images", or "tokens" (padded token ids, models/text.py)

    def normalized_by(self, normalization: str | None) -> DatasetSpec:
        """This spec with the mean/std that `normalization` (None: the dataset's default) selects."""
        choice = normalization or self.normalization
        if self.input != "images":
            if normalization is not None:
                raise DataError(f"data.normalization={normalization!r}: {self.name} holds {self.input}, not images; "
                                f"leave it null")
            return self
        if choice == "dataset":
            return self
        if choice != "imagenet":
            raise DataError(f"data.normalization={choice!r}; expected one of {', '.join(NORMALIZATIONS)}")
        if self.shape[0] != len(IMAGENET_MEAN):
            raise DataError(f"data.normalization=imagenet needs RGB images, but {self.name} has {self.shape[0]} "
                            f"channel(s); use `dataset`")
        return replace(self, mean=IMAGENET_MEAN, std=IMAGENET_STD)
