"""What the steps share: process set-up, the experiment's data and models, and writing results."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..data import Splits, dataset_spec, load_splits
from ..io.checkpoint import archive, atomic_write, save_json, save_model
from ..io.phases import phase
from ..measure.bn import bn_subset
from ..measure.metrics import evaluate, evaluate_splits
from ..models import build_model
from .code import fingerprint, versions
from .paths import archive_of
from .runtime import configure, provenance, resolve_device

if TYPE_CHECKING:  # pandas is imported by the steps that write CSVs, not by every step
    import pandas as pd

log = logging.getLogger("starlight")
# The star checkpoint's entry holding, per anchor id, the permutations of the anchor the star was trained against.
ANCHOR_BASES = "anchor_bases"


def setup(exp: dict, threads: int) -> torch.device:
    configure(threads, exp.get("deterministic", False))
    device = resolve_device(exp.get("device", "auto"))
    where = provenance(device)
    log.info("device %s (%s), %d thread(s), SLURM job %s", where["device"], where["device_name"], where["threads"],
             where["slurm_job_id"] or "none")
    return device


@phase("load")
def splits_of(exp: dict, dataset_file: str, device: torch.device) -> Splits:
    return load_splits(dataset_file, exp["dataset"], exp["data"]).to(device)


def model_factory(exp: dict) -> Callable[[], nn.Module]:
    """Builds the experiment's model for its dataset's image shape and class count."""
    spec = dataset_spec(exp["dataset"], exp["data"])
    return lambda: build_model(exp["model"], spec.shape, spec.n_classes)


def code_record(step: str, exp: dict) -> dict:
    """What produced an output: the fingerprint of the step's code (as the workflow computed it for the job's
    params, else computed here) and the versions of the libraries that shape results."""
    return {"code": exp.get("code") or fingerprint(step, exp), **versions()}


def bn_data(exp: dict, splits: Splits) -> torch.Tensor:
    """The training images every BN re-estimation uses: a seeded subset (`bn.subset`, `bn.seed`)."""
    return bn_subset(splits.train, exp["bn"]["subset"], exp["bn"]["seed"])


def train_eval_data(exp: dict, splits: Splits):
    """The training images the barriers are measured on: a seeded subset (`barrier.train_eval_subset`,
    `train_eval_seed`), or all of them."""
    barrier = exp["barrier"]
    return splits.train.subset(barrier.get("train_eval_subset"), barrier.get("train_eval_seed", 0))


def epoch_reporter(on_epoch: Callable[[dict], None] | None, model: nn.Module, splits: Splits,
                   batch_size: int) -> Callable[[dict], None] | None:
    """What a training job hands its loop for experiment tracking (None when tracking is off): each epoch's record
    with the validation loss and accuracy and the seconds per step added, passed to `on_epoch`. The validation pass
    runs in eval mode without gradients and restores the model's mode: it changes no weight, no BN statistic and
    no random state, so a tracked model is the untracked one, bit for bit."""
    if on_epoch is None:
        return None
    steps = splits.train.steps_per_epoch(batch_size)

    def report(record: dict) -> None:
        training = model.training
        val_loss, val_acc = evaluate(model, splits.val)
        model.train(training)
        on_epoch({**record, "val_loss": val_loss, "val_acc": val_acc, "step_seconds": record["seconds"] / steps})

    return report


def file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_model(model, exp: dict, splits: Splits, meta: dict, out_ckpt: str, out_json: str, t0: float,
                state_path: str | None, job_key: str, extra: dict | None = None) -> None:
    """Evaluate, write metadata and checkpoint atomically, archive them under the job's recovery key
    (starlight/pipeline/recovery.py), and drop the finished training state."""
    meta["final"] = evaluate_splits(model, splits)
    meta["seconds"] = time.perf_counter() - t0
    log.info("final %s", " ".join(f"{k} {v:.4f}" for k, v in meta["final"].items()))
    # The JSON goes first: the checkpoint is what marks the job done for a reader that checks it alone.
    save_json(meta, out_json)
    save_model(model, exp["model"], out_ckpt, extra)
    archive([out_ckpt, out_json], archive_of(out_ckpt), f"{time.strftime('%Y%m%dT%H%M%S')}-{job_key}")
    if state_path:
        Path(state_path).unlink(missing_ok=True)


def write_csv(df: pd.DataFrame, path: str) -> None:
    atomic_write(path, lambda tmp: df.to_csv(tmp, index=False, float_format="%.8g"))
