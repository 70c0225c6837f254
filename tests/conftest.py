import contextlib
import fcntl
import hashlib
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from starlight.data import DATASETS, load_dataset, make_splits

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def job_experiment(model: dict, epochs: int = 1) -> dict:
    """An experiment as a job gets it, every setting filled in: 2,000 training and 1,000 test images of
    Fashion-MNIST, SGD with Nesterov momentum on a cosine schedule, a 5-point aligned grid, BN from 500 images."""
    return {
        "dataset": "fashion_mnist", "device": "cpu", "deterministic": False,
        "data": {"val_size": 1000, "split_seed": 0, "train_subset": 2000, "test_subset": 1000},
        "model": model,
        "train": {"epochs": epochs, "batch_size": 64, "lr": 0.1, "momentum": 0.9, "nesterov": True,
                  "weight_decay": 5e-4, "schedule": "cosine", "warmup_steps": 0},
        "barrier": {"grid_points": 5, "align": True},
        "alignment": {"method": "matching", "seed": 0},
        "bn": {"subset": 500, "seed": 0},
        "n_anchors": None,
    }


@pytest.fixture(scope="session")
def raw_data():
    """The real Fashion-MNIST tensors, read once per session."""
    return load_dataset("fashion_mnist")


@pytest.fixture(scope="session")
def small_splits(raw_data):
    """2,000 training and 1,000 test images: enough for a model to learn something in a second."""
    return make_splits(raw_data, DATASETS["fashion_mnist"].spec, val_size=500, split_seed=0, train_subset=2000, test_subset=1000)


@pytest.fixture(scope="session")
def dataset_file(raw_data, tmp_path_factory):
    path = tmp_path_factory.mktemp("resources") / "fashion_mnist.pt"
    torch.save(raw_data, path)
    return path


def pytest_collection_modifyitems(config, items):
    """Tests marked `cuda` need a CUDA GPU: skipped, saying so, where there is none."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


def copy_workflow(dest: Path) -> Path:
    """A private copy of the workflow (not of results/) so tests never touch the user's runs."""
    for name in ("Snakefile", "workflow", "config", "envs", "profiles"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


def run_snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 900, env=None):
    cmd = [SNAKEMAKE, "--directory", str(workdir), "--snakefile", str(workdir / "Snakefile"), *args]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
                             f"{proc.stderr[-8000:]}")
    return proc


def job_counts(stdout: str) -> dict[str, int]:
    """Rule -> job count of the `Job stats:` table a dry run prints."""
    table = re.search(r"Job stats:\n(.*?)\n\s*total\s+\d+", stdout, re.DOTALL)
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table[1], re.MULTILINE)}


def planned_jobs(workdir, *args, env=None) -> dict[str, int]:
    """Rule -> job count of a dry run ({} when there is nothing to do)."""
    proc = run_snakemake(workdir, "-n", *args, env=env)
    if "Job stats:" not in proc.stdout:
        assert "Nothing to be done" in proc.stdout, proc.stdout[-2000:]
        return {}
    return job_counts(proc.stdout)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def exclusive(lock_file: Path):
    """Hold an exclusive lock on `lock_file` (blocking): one test process at a time."""
    with open(lock_file, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def shared_tmp(tmp_path_factory) -> Path:
    """A folder every test process of this run shares (pytest-xdist workers included)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def tiny_reference(shared_tmp):
    """An untouched local run of config/tiny.yaml, for the tests that compare another run against one. Made
    once per test run, by the first process that asks; tests copy it rather than change it."""
    workdir = shared_tmp / "tiny-reference"
    with exclusive(shared_tmp / "tiny-reference.lock"):
        if not (workdir / "finished").exists():
            shutil.rmtree(workdir, ignore_errors=True)
            workdir.mkdir()
            copy_workflow(workdir)
            run_snakemake(workdir, "--configfile", "config/tiny.yaml", "--cores", "2")
            (workdir / "finished").touch()
    return workdir


def write_cifar_batch(path: Path, images: np.ndarray, labels: list[int], label_key: str) -> None:
    """One batch file in the format of the official CIFAR archives: a protocol-2 pickle of a dict holding `data`
    (uint8 [N, 3072], the R, G and B planes of each image) and the labels. The archives were pickled under
    Python 2 with NumPy 1, whose arrays name `numpy.core.multiarray._reconstruct`; ours name it the same way."""
    batch = {"batch_label": "fixture batch", label_key: list(labels), "data": images.reshape(len(images), -1),
             "filenames": [f"image_{i}.png" for i in range(len(images))]}
    payload = pickle.dumps(batch, protocol=2).replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    path.write_bytes(payload)


@pytest.fixture
def cifar_root(tmp_path):
    """A torchvision-style root with tiny CIFAR-10 and CIFAR-100 archives in the official pickle format: 5 x 4
    training and 6 test images (CIFAR-10), 20 and 6 (CIFAR-100). Returns (root, {name: expected tensors})."""
    rng = np.random.default_rng(0)
    expected = {}
    layouts = {
        "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "labels", 10,
                    ("batches.meta", {"label_names": [f"class{i}" for i in range(10)], "num_vis": 3072})),
        "cifar100": ("cifar-100-python", ["train"], ["test"], "fine_labels", 100,
                     ("meta", {"fine_label_names": [f"class{i}" for i in range(100)]})),
    }
    for name, (folder, train_files, test_files, label_key, n_classes, (meta_name, meta)) in layouts.items():
        out = tmp_path / folder
        out.mkdir()
        parts = {}
        for split, files in (("train", train_files), ("test", test_files)):
            xs, ys = [], []
            n = 20 // len(files) if split == "train" else 6
            for file in files:
                x = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
                y = rng.integers(0, n_classes, size=n).tolist()
                write_cifar_batch(out / file, x, y, label_key)
                xs.append(x)
                ys += y
            parts[f"{split}_x"] = torch.from_numpy(np.concatenate(xs))
            parts[f"{split}_y"] = torch.tensor(ys)
        (out / meta_name).write_bytes(pickle.dumps(meta, protocol=2))
        expected[name] = parts
    return tmp_path, expected


IMAGENET_CLASSES = ("n01440764", "n01443537", "n01484850")


@pytest.fixture
def imagenet_root(tmp_path):
    """A tiny ImageNet in the ImageFolder layout: <root>/imagenet/{train,val}/<wnid>/*.png, 3 classes, 6 training
    and 2 validation images each, of assorted sizes (at least 40 x 40) and distinct random pixels."""
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "imagenet"
    for split, per_class in (("train", 6), ("val", 2)):
        for wnid in IMAGENET_CLASSES:
            (root / split / wnid).mkdir(parents=True)
            for i in range(per_class):
                h, w = int(rng.integers(40, 64)), int(rng.integers(40, 64))
                pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / wnid / f"{wnid}_{i}.png")
    return tmp_path
