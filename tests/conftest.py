import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from starlight.data import DATASETS, load_dataset, make_splits

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


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


@pytest.fixture(scope="session")
def tiny_reference(tmp_path_factory):
    """An untouched local run of config/tiny.yaml, for the tests that compare another run against one."""
    workdir = copy_workflow(tmp_path_factory.mktemp("tiny-reference"))
    run_snakemake(workdir, "--configfile", "config/tiny.yaml", "--cores", "2")
    return workdir
