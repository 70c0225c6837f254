import gzip
import os
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
import yaml

from starlight.data import (
    DATASETS,
    DataError,
    configured_dataset,
    data_input,
    data_settings,
    dataset_from_stem,
    dataset_spec,
    epoch_order,
    load_dataset,
    load_splits,
    make_splits,
    root_for,
)
from starlight.data.idx import RAW_FILES
from starlight.data.synthetic import SyntheticSettings

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
    with pytest.raises(DataError, match="unknown dataset 'svhn'"):
        load_dataset("svhn")


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


# --- the registry ---------------------------------------------------------------------------------------------

def test_registry_holds_the_papers_datasets():
    assert set(DATASETS) == {"mnist", "fashion_mnist", "cifar10", "cifar100", "imagenet", "synthetic", "ag_news",
                             "synthetic_text"}
    for name, entry in DATASETS.items():
        spec = entry.spec
        channels = spec.shape[0] if spec.input == "images" else 0  # token ids have no channel statistics
        assert spec.name == name and len(spec.mean) == len(spec.std) == channels
        assert 0 < spec.val_size < spec.train_size
        assert data_settings(name, {}).spec.shape == spec.shape
    assert [n for n, e in DATASETS.items() if not e.materialised] == ["imagenet"]


def test_dataset_defaults_and_choices():
    assert data_settings("fashion_mnist", {}).val_size == 6000  # the old schema default, now the spec's
    assert data_settings("fashion_mnist", {}).spec.mean == (0.2860,)
    assert data_settings("cifar100", {}).spec.mean == (0.485, 0.456, 0.406)
    assert data_settings("cifar100", {"normalization": "dataset"}).spec.mean == DATASETS["cifar100"].spec.mean
    with pytest.raises(DataError, match="data.normalization=imagenet needs RGB images, but mnist has 1 channel"):
        data_settings("mnist", {"normalization": "imagenet"})
    with pytest.raises(DataError, match="data.val_size=50000 must be smaller than cifar10's 50000 training images"):
        data_settings("cifar10", {"val_size": 50000})


def test_schema_defaults_match_the_code():
    """The schema documents the synthetic dataset's defaults; the code applies them when the section is absent."""
    schema = yaml.safe_load((Path(__file__).parents[2] / "workflow/schemas/config.schema.yaml").read_text())
    props = schema["$defs"]["experiment"]["properties"]
    synthetic = props["data"]["properties"]["synthetic"]["properties"]
    assert {k: v["default"] for k, v in synthetic.items()} == {**asdict(SyntheticSettings()), "shape": [3, 32, 32]}
    assert props["dataset"]["enum"] == list(DATASETS)
    generated = {"synthetic", "synthetic_text"}
    assert set(schema["properties"]["data_roots"]["propertyNames"]["enum"]) == set(DATASETS) - generated


# --- the synthetic dataset --------------------------------------------------------------------------------------

SMALL = {"shape": [1, 12, 10], "classes": 4, "train_size": 300, "test_size": 100, "seed": 5}


def test_synthetic_shapes_dtypes_and_seeds():
    raw = load_dataset("synthetic", data_cfg={"synthetic": SMALL})
    assert raw["train_x"].shape == (300, 1, 12, 10) and raw["train_x"].dtype == torch.uint8
    assert raw["test_x"].shape == (100, 1, 12, 10) and raw["train_y"].dtype == torch.int64
    assert torch.bincount(raw["train_y"]).tolist() == [75] * 4  # balanced
    again = load_dataset("synthetic", data_cfg={"synthetic": SMALL})
    other = load_dataset("synthetic", data_cfg={"synthetic": {**SMALL, "seed": 6}})
    assert all(torch.equal(raw[k], again[k]) for k in raw)
    assert not torch.equal(raw["train_x"], other["train_x"])
    splits = make_splits(raw, dataset_spec("synthetic", {"synthetic": SMALL}), 30, split_seed=1)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (270, 30, 100)
    assert splits.train.images.dtype == torch.uint8 and splits.spec.n_classes == 4
    x = splits.train.normalised()
    assert abs(x.mean().item()) < 0.15 and abs(x.std().item() - 1) < 0.15  # the spec's mean/std fit


def test_synthetic_file_names_spell_the_settings():
    entry = configured_dataset("synthetic", {"synthetic": SMALL})
    assert entry.file_stem == "synthetic-1x12x10-4classes-300train-100test-seed5"
    assert dataset_from_stem(entry.file_stem) == entry
    stems = {configured_dataset("synthetic", {"synthetic": {**SMALL, key: value}}).file_stem
             for key, value in [("seed", 6), ("classes", 5), ("shape", [3, 12, 10]), ("train_size", 301),
                                ("test_size", 99), ("seed", 5)]}
    assert len(stems) == 6
    assert data_input("synthetic", {"synthetic": SMALL}, resources="res").path == f"res/{entry.file_stem}.pt"
    with pytest.raises(DataError, match="not the synthetic dataset's file name"):
        dataset_from_stem("synthetic-3x32")


@pytest.mark.parametrize("model_cfg,augment", [({"name": "mlp", "depth": 1, "width": 32}, {}),
                                               ({"name": "cnn", "depth": 2, "width": 8}, {"crop": True,
                                                                                         "flip": True})])
def test_synthetic_is_learnable(tmp_path, model_cfg, augment):
    from starlight.jobs.prepare_data import prepare_data_job
    from starlight.jobs.stage_data import stage_data_job
    from starlight.measure.metrics import evaluate
    from starlight.models import build_model
    from starlight.training.loop import train_classifier

    data_cfg = {"synthetic": {"train_size": 1000, "test_size": 300}, "augment": augment}
    stem = configured_dataset("synthetic", data_cfg).file_stem
    stage_data_job(str(tmp_path / "raw"), stem, None, False)
    prepare_data_job(str(tmp_path / "raw"), str(tmp_path / f"{stem}.pt"), stem)
    splits = load_splits(tmp_path / f"{stem}.pt", "synthetic", data_cfg)
    assert (splits.train.augment is not None) == bool(augment)
    torch.manual_seed(0)
    spec = splits.spec
    model = build_model(model_cfg, spec.shape, spec.n_classes)
    cfg = {"epochs": 2, "batch_size": 50, "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
           "schedule": "cosine"}
    train_classifier("m", model, splits.train, cfg, seed=0)
    assert evaluate(model, splits.test)[1] > 0.5  # chance is 0.1


# --- roots and missing files ------------------------------------------------------------------------------------

def copy_fashion_raw(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in RAW_FILES:
        shutil.copyfile(FASHION.debian_root / f"{name}.gz", dest / f"{name}.gz")
    return dest


def test_torchvision_style_root_and_per_dataset_override(raw_data, tmp_path):
    shared = tmp_path / "shared"
    copy_fashion_raw(shared / "FashionMNIST" / "raw")
    # MNIST's files have Fashion-MNIST's format: the same bytes under MNIST/raw go through the MNIST entry
    copy_fashion_raw(shared / "MNIST" / "raw")
    assert torch.equal(load_dataset("fashion_mnist", str(shared))["test_y"], raw_data["test_y"])
    assert torch.equal(load_dataset("mnist", str(shared))["train_x"], raw_data["train_x"])
    assert root_for("mnist", str(shared), {"imagenet": "/scratch/imagenet"}) == str(shared)
    assert root_for("imagenet", str(shared), {"imagenet": "/scratch/imagenet"}) == "/scratch/imagenet"
    assert root_for("cifar10", None, {}) is None
    found = data_input("fashion_mnist", {}, str(tmp_path / "empty"), {"fashion_mnist": str(shared)})
    assert found.problem is None and found.path == "resources/fashion_mnist.pt"


def test_missing_mnist_names_files_and_both_ways(tmp_path):
    for root in (None, str(tmp_path)):
        with pytest.raises(DataError) as err:
            load_dataset("mnist", root)
        message = str(err.value)
        assert "train-images-idx3-ubyte[.gz]" in message and "MNIST/raw/" in message
        assert "data_roots: {mnist: <folder>}" in message and "allow_download: true" in message
        assert "apt-get" not in message  # Debian does not package MNIST


def test_data_input_reports_missing_data_unless_prepared(tmp_path):
    missing = data_input("cifar10", {}, resources=str(tmp_path))
    assert missing.path == f"{tmp_path}/cifar10.pt" and "CIFAR-10 not found" in missing.problem
    (tmp_path / "cifar10.pt").write_bytes(b"prepared earlier")
    assert data_input("cifar10", {}, resources=str(tmp_path)).problem is None
    assert data_input("cifar10", {}, allow_download=True, resources=str(tmp_path / "x")).problem is None
    assert data_input("fashion_mnist", {}).problem is None  # Debian's package


def test_get_data_script_fills_a_torchvision_style_root(raw_data, tmp_path):
    script = Path(__file__).parents[2] / "scripts" / "get-data.sh"
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run([str(script), str(tmp_path), "fashion_mnist"], capture_output=True, text=True, env=env,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    assert torch.equal(load_dataset("fashion_mnist", str(tmp_path))["train_y"], raw_data["train_y"])
    refused = subprocess.run([str(script), str(tmp_path), "imagenet"], capture_output=True, text=True, env=env,
                          check=False)
    assert refused.returncode != 0 and "imagenet: " in refused.stderr and "never downloaded" in refused.stderr
