"""Process-level setup shared by every job: device, threads, seeds, logging, provenance."""

from __future__ import annotations

import logging
import os
import random
import sys
import warnings

import numpy as np
import torch

from ..io.phases import start_job

log = logging.getLogger("starlight")


def setup_logging(log_file: str | None = None) -> logging.Logger:
    """Log to the rule's log file (one line per event, flushed at once) and to stderr. Called first by every
    workflow script: it ends the job's start-up phase, and the job's phases line is logged at exit (phases.py)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        handlers=handlers, force=True)
    logging.captureWarnings(True)
    # An uncaught error goes to the rule's log too, where snakemake tells the user to look.
    sys.excepthook = lambda kind, err, tb: log.critical("%s: %s", kind.__name__, err, exc_info=(kind, err, tb))
    start_job()
    return log


def resolve_device(requested: str = "auto") -> torch.device:
    """`auto` takes the GPU SLURM (or the user) made visible, and falls back to the CPU with a warning."""
    if requested == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda" if requested == "auto" else requested)
    if requested != "auto":
        raise RuntimeError(f"device {requested!r} requested but CUDA is not available")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible not in (None, "", "-1"):
        warnings.warn(f"CUDA_VISIBLE_DEVICES={visible} but no usable CUDA device: falling back to the CPU")
    return torch.device("cpu")


def configure(threads: int = 1, deterministic: bool = False) -> None:
    """Fix the thread count (CPU results depend on it) and, optionally, force deterministic GPU kernels."""
    torch.set_num_threads(max(1, threads))
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def provenance(device: torch.device) -> dict:
    """What a metadata JSON records about where a job ran."""
    return {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
