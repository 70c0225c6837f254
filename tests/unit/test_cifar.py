"""CIFAR-10/100 through their real file format: tiny archives written by a fixture in the official pickle layout,
read by the same code the pipeline runs (stage, read, prepare, splits)."""

import pickle

import pytest
import torch
from conftest import write_cifar_batch

from starlight.data import DATASETS, DataError, data_settings, load_dataset, load_splits
from starlight.data.cifar import read_batch
from starlight.jobs.prepare_data import prepare_data_job
from starlight.jobs.stage_data import stage_data_job


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_reads_the_archive_format_channels_first(cifar_root, name):
    root, expected = cifar_root
    data = load_dataset(name, str(root))
    for key in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(data[key], expected[name][key]), key
    assert data["train_x"].dtype == torch.uint8 and data["train_x"].shape == (20, 3, 32, 32)
    assert data["train_y"].dtype == torch.int64 and data["test_x"].shape == (6, 3, 32, 32)


def test_pixel_layout_is_red_green_blue_planes(tmp_path):
    # One image: red plane all 10, green 20, blue: its top-right pixel 255. A row of the format is R, G, B planes.
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    image = torch.zeros(1, 3, 32, 32, dtype=torch.uint8)
    image[0, 0], image[0, 1], image[0, 2, 0, 31] = 10, 20, 255
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        write_cifar_batch(folder / name, image.numpy(), [7], "labels")
    x = load_dataset("cifar10", str(folder))["test_x"]  # the root may also be the archive folder itself
    assert x[0, 0].unique().tolist() == [10] and x[0, 1].unique().tolist() == [20]
    assert x[0, 2, 0, 31] == 255 and x[0, 2].sum() == 255


def test_prepare_job_and_splits(cifar_root, tmp_path):
    root, expected = cifar_root
    staged, prepared = tmp_path / "staged", tmp_path / "cifar10.pt"
    stage_data_job(str(staged), "cifar10", str(root), False)
    prepare_data_job(str(staged), str(prepared), "cifar10")
    splits = load_splits(prepared, "cifar10", {"val_size": 4, "split_seed": 1})
    assert (len(splits.train), len(splits.val), len(splits.test)) == (16, 4, 6)
    assert torch.equal(splits.test.images, expected["cifar10"]["test_x"])
    # every training image is one of the archive's, with its label
    flat = expected["cifar10"]["train_x"].flatten(1)
    for img, label in zip(splits.train.images, splits.train.labels):
        (i,) = (flat == img.flatten()).all(1).nonzero()[0].tolist()
        assert expected["cifar10"]["train_y"][i] == label
    # the reference code's choices are the CIFAR defaults: ImageNet statistics, crop and flip, 45k/5k
    assert splits.spec.mean == (0.485, 0.456, 0.406) and splits.train.mean == splits.spec.mean
    assert splits.train.augment is not None and splits.train.augment.crop_padding == 4 and splits.train.augment.flip
    assert splits.val.augment is None and splits.test.augment is None
    assert data_settings("cifar10", {}).val_size == 5000
    own = load_splits(prepared, "cifar10", {"val_size": 4, "normalization": "dataset"})
    assert own.train.mean == DATASETS["cifar10"].spec.mean


def test_pickle_payloads_are_refused(cifar_root):
    root, _ = cifar_root

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    path = root / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(pickle.dumps({"data": Payload(), "labels": []}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match=r"\.print is not part of the CIFAR format"):
        read_batch(path)
    with pytest.raises(DataError, match="could not read CIFAR-10 batch .*test_batch"):
        load_dataset("cifar10", str(root))


@pytest.mark.parametrize("corrupt,message", [
    (lambda b: {**b, "data": b["data"][:, :100]}, r"`data` must be uint8 \[N, 3072\]"),
    (lambda b: {**b, "labels": [10] * len(b["labels"])}, r"`labels` must hold 4 labels in 0..9"),
    (lambda b: {k: v for k, v in b.items() if k != "labels"}, "KeyError"),
])
def test_malformed_batches_are_named(cifar_root, corrupt, message):
    root, _ = cifar_root
    path = root / "cifar-10-batches-py" / "data_batch_3"
    batch = read_batch(path)
    path.write_bytes(pickle.dumps(corrupt(batch), protocol=2))
    with pytest.raises(DataError, match=message) as err:
        load_dataset("cifar10", str(root))
    assert "data_batch_3" in str(err.value)


def test_missing_files_name_the_files_and_both_ways(tmp_path):
    (tmp_path / "cifar-100-python").mkdir()
    with pytest.raises(DataError) as err:
        load_dataset("cifar100", str(tmp_path))
    message = str(err.value)
    assert "holds no CIFAR-100 batch files" in message and "cifar-100-python/{train,test}" in message
    assert "data_roots: {cifar100: <folder>}" in message and "allow_download: true" in message
    with pytest.raises(DataError, match=r"CIFAR-10 not found: no `data_root` set and `allow_download` is false.*"
                                        r"data_batch_1.*test_batch.*allow_download: true"):
        load_dataset("cifar10")
