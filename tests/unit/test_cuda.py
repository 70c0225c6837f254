"""On a CUDA GPU (skipped elsewhere; `pytest -m cuda` runs these): a whole pipeline of jobs runs on the GPU, agrees
with the CPU, and `deterministic: true` makes training reproducible run to run."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import torch
from conftest import ROOT

from starlight.io.checkpoint import load_state_dict
from starlight.jobs.barrier import pair_job
from starlight.jobs.train import train_job
from starlight.jobs.train_star import train_star_job

pytestmark = pytest.mark.cuda

STAR = {"t_scheme": "uniform", "t_constant": 0.5, "mu_star": 0.0, "realign_every_epoch": True, "n_anchors": 2,
        "seed": 7}


def experiment(device: str, deterministic: bool = False) -> dict:
    """A BN CNN on a Fashion-MNIST subset, as the workflow's params hand it to the jobs."""
    return {
        "dataset": "fashion_mnist", "device": device, "deterministic": deterministic,
        "data": {"val_size": 1000, "split_seed": 0, "train_subset": 2000, "test_subset": 500},
        "model": {"name": "cnn", "depth": 2, "width": 8, "batchnorm": True},
        "train": {"epochs": 3, "batch_size": 64, "lr": 0.1, "momentum": 0.9, "nesterov": True,
                  "weight_decay": 5e-4, "schedule": "cosine", "warmup_steps": 0},
        "barrier": {"grid_points": 5, "align": True},
        "alignment": {"method": "matching", "seed": 0},
        "bn": {"subset": 500, "seed": 0},
        "n_anchors": None,
    }


def _models(dataset_file, exp: dict, folder) -> None:
    """Anchors 0 and 1, held-out model 100, and a star on the two anchors."""
    for role, seed in (("anchor", 0), ("anchor", 1), ("heldout", 100)):
        train_job(str(dataset_file), exp, role, seed, str(folder / f"{role}-{seed}.pt"),
                  str(folder / f"{role}-{seed}.json"))
    train_star_job(str(dataset_file), exp | {"star": STAR}, "star-0", [str(folder / f"anchor-{i}.pt") for i in (0, 1)],
             str(folder / "star-0.pt"), str(folder / "star-0.json"))


def _barrier(dataset_file, exp: dict, folder, tag: str) -> pd.DataFrame:
    curve_csv, barriers_csv = folder / f"{tag}.curve.csv", folder / f"{tag}.barriers.csv"
    pair_job(str(dataset_file), exp | {"n_anchors": 2}, "star_heldout", "star-0", "heldout-100",
                str(folder / "star-0.pt"), str(folder / "heldout-100.pt"), str(curve_csv), str(barriers_csv))
    return pd.read_csv(curve_csv)


def test_a_pipeline_runs_on_the_gpu_and_agrees_with_the_cpu(dataset_file, tmp_path):
    torch.cuda.reset_peak_memory_stats()
    _models(dataset_file, experiment("cuda"), tmp_path)
    assert torch.cuda.max_memory_allocated() > 0
    for name in ("anchor-0", "heldout-100", "star-0"):
        meta = json.loads((tmp_path / f"{name}.json").read_text())
        assert meta["device"].startswith("cuda") and meta["device_name"] != "cpu", name
        assert meta["final"]["test_acc"] > 0.3, name  # it learned (chance: 0.1)
        saved = torch.load(tmp_path / f"{name}.pt", weights_only=True)["state_dict"]  # as saved, not mapped
        assert all(v.device.type == "cpu" for v in saved.values()), name  # checkpoints load anywhere
    gpu = _barrier(dataset_file, experiment("cuda"), tmp_path, "gpu")
    cpu = _barrier(dataset_file, experiment("cpu"), tmp_path, "cpu")
    assert gpu[["t", "split", "aligned"]].equals(cpu[["t", "split", "aligned"]])
    # cuDNN convolutions may run in TF32 (10-bit mantissa): the losses agree to 1 %, not to float32 rounding
    assert gpu["loss"].to_numpy() == pytest.approx(cpu["loss"].to_numpy(), rel=1e-2)
    assert (gpu["accuracy"] - cpu["accuracy"]).abs().max() <= 0.01


RUN = """
import json, sys
from starlight.jobs.train_star import train_star_job
from starlight.jobs.train import train_job
dataset, folder, exp, star = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
for seed in (0, 1):
    train_job(dataset, exp, "anchor", seed, f"{folder}/anchor-{seed}.pt", f"{folder}/anchor-{seed}.json")
train_star_job(dataset, exp | {"star": star}, "star-0", [f"{folder}/anchor-{i}.pt" for i in (0, 1)],
         f"{folder}/star-0.pt", f"{folder}/star-0.json")
"""


def test_deterministic_training_is_reproducible_on_the_gpu(dataset_file, tmp_path):
    """Each run in its own process: cuBLAS reads CUBLAS_WORKSPACE_CONFIG when it starts."""
    exp = experiment("cuda", deterministic=True)
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        subprocess.run([sys.executable, "-c", RUN, str(dataset_file), str(tmp_path / run), json.dumps(exp),
                        json.dumps(STAR)], check=True, cwd=ROOT, capture_output=True, text=True)
    for name in ("anchor-0", "anchor-1", "star-0"):
        a, b = (load_state_dict(tmp_path / run / f"{name}.pt") for run in ("a", "b"))
        assert list(a) == list(b)
        for k in a:
            assert torch.equal(a[k], b[k]), (name, k)
        assert json.loads((tmp_path / "a" / f"{name}.json").read_text())["device"].startswith("cuda")
