import gzip

import pytest
import torch

from starlight.data import DATASETS, DataError, epoch_order, load_dataset, make_splits
from starlight.data.idx import RAW_FILES

FASHION = DATASETS["fashion_mnist"]


def load_fashion_mnist(data_root=None):
    return load_dataset("fashion_mnist", data_root)


def test_real_fashion_mnist_shapes(raw_data):
    assert raw_data["train_x"].shape == (60000, 28, 28) and raw_data["train_x"].dtype == torch.uint8
    assert raw_data["test_x"].shape == (10000, 28, 28)
    assert sorted(raw_data["train_y"].unique().tolist()) == list(range(10))
    # Fashion-MNIST is balanced: 6,000 training images per class
    assert torch.bincount(raw_data["train_y"]).tolist() == [6000] * 10


def test_user_root_with_gz_files_is_read(raw_data, tmp_path):
    # A user-provided root holding the raw idx files, gzipped, as downloaded elsewhere.
    for name in RAW_FILES:
        with open(FASHION.debian_root / f"{name}.gz", "rb") as src:
            (tmp_path / f"{name}.gz").write_bytes(src.read())
    data = load_fashion_mnist(str(tmp_path))
    assert torch.equal(data["test_y"], raw_data["test_y"])


def test_missing_root_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="does not exist.*dataset-fashion-mnist"):
        load_fashion_mnist(str(tmp_path / "nowhere"))


def test_empty_root_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="holds no Fashion-MNIST raw files"):
        load_fashion_mnist(str(tmp_path))


def test_corrupt_raw_file_is_a_clear_error(tmp_path):
    for name in RAW_FILES:
        with gzip.open(tmp_path / f"{name}.gz", "wb") as f:
            f.write(b"not an idx file")
    with pytest.raises(DataError, match="could not read Fashion-MNIST"):
        load_fashion_mnist(str(tmp_path))


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset 'cifar10'"):
        load_dataset("cifar10")


def test_split_is_seeded_and_disjoint(raw_data):
    a = make_splits(raw_data, FASHION.spec, val_size=1000, split_seed=3)
    b = make_splits(raw_data, FASHION.spec, val_size=1000, split_seed=3)
    c = make_splits(raw_data, FASHION.spec, val_size=1000, split_seed=4)
    assert torch.equal(a.val.images, b.val.images) and not torch.equal(a.val.images, c.val.images)
    assert len(a.train) == 59000 and len(a.val) == 1000
    assert a.train.images.dtype == torch.uint8 and a.train.images.shape[1:] == (1, 28, 28)
    x = a.train.normalised()
    assert abs(x.mean().item()) < 0.05 and abs(x.std().item() - 1) < 0.05


def test_epoch_order_is_a_function_of_seed_and_epoch():
    assert torch.equal(epoch_order(100, 1, 2), epoch_order(100, 1, 2))
    assert not torch.equal(epoch_order(100, 1, 2), epoch_order(100, 1, 3))
    assert sorted(epoch_order(100, 1, 2).tolist()) == list(range(100))
