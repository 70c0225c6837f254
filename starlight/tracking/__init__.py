"""Experiment tracking with Weights & Biases and TensorBoard: optional (the `tracking` extra), off by default, and
never part of a result.

It owns the config's `tracking:` section (`settings`: which backends are on, the checks before any job), one module
per backend (`wandb_backend`, `tensorboard_backend`) and this entry point: `Runs`, one run in every backend that is
on, and `live`, which a training job's script wraps the job in to log each epoch as it ends. Rule `publish`
(starlight/jobs/publish.py) logs a finished experiment from its files through `Runs`.

Only the workflow (its config check and its scripts) and the publish step import this package, and it imports
wandb and tensorboard only when a backend is on. No other step's code fingerprint covers it
(starlight/pipeline/code.py) and the section is in no rule's params, so neither an edit here nor turning tracking on
or off reruns a job. Inside a training job a tracking failure is a warning, never the job's failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..pipeline import paths
from . import settings

log = logging.getLogger("starlight")
# An epoch's record (training/loop.py, plus the validation metrics and seconds per step a live job adds) -> the key
# it is logged under.
EPOCH_KEYS = {"loss": "train/loss", "acc": "train/acc", "val_loss": "val/loss", "val_acc": "val/acc", "lr": "lr",
              "seconds": "time/epoch_s", "step_seconds": "time/step_s"}


def epoch_metrics(record: dict, prefix: str = "") -> dict[str, float]:
    return {prefix + key: record[field] for field, key in EPOCH_KEYS.items() if field in record}


def group_of(exp: str) -> str:
    """The runs' group unless the config names one: the experiment's name (a variant's experiment's)."""
    return exp.split("/")[0]


class Runs:
    """One run, named `name`, in every backend that is on; what is logged goes to each."""

    def __init__(self, tracking: dict, *, exp: str, name: str, job_type: str, config: dict, tensorboard_run: str):
        self.runs: list = []
        wandb = settings.wandb_settings(tracking)
        if wandb:
            from .wandb_backend import WandbRun

            self.runs.append(WandbRun(wandb, name=name, group=wandb["group"] or group_of(exp), job_type=job_type,
                                      config=config, folder=paths.tracking(exp)))
        if settings.tensorboard_on(tracking):
            from .tensorboard_backend import TensorBoardRun

            self.runs.append(TensorBoardRun(paths.tensorboard(exp, tensorboard_run)))

    def log(self, metrics: dict[str, float], step: int) -> None:
        for run in self.runs:
            run.log(metrics, step)

    def summary(self, values: dict[str, float]) -> None:
        for run in self.runs:
            run.summary(values)

    def table(self, key: str, frame) -> None:
        for run in self.runs:
            run.table(key, frame)

    def curves(self, frame) -> None:
        for run in self.runs:
            run.curves(frame)

    def files(self, name: str, kind: str, files: dict[str, Path]) -> None:
        for run in self.runs:
            run.files(name, kind, files)

    def finish(self, failed: bool = False) -> None:
        for run in self.runs:
            run.finish(failed)


@contextmanager
def live(tracking: dict | None, *, exp: str, model: str, role: str,
         config: dict) -> Iterator[Callable[[dict], None] | None]:
    """What the training job of `model` (of experiment or variant `exp`) hands its loop: a callback that logs each
    epoch's record (training and validation loss and accuracy, learning rate, seconds per epoch and per step) to a
    run named `<exp>/<model>` in every backend that is on, with the job's config; None when tracking is off. The
    runs open at the first epoch, so a job that restores its model from the archive opens none."""
    if not settings.backends(tracking):
        yield None
        return
    opened: list[Runs] = []
    broken: list[Exception] = []

    def on_epoch(record: dict) -> None:
        if broken:
            return
        try:
            if not opened:
                opened.append(Runs(tracking, exp=exp, name=f"{exp}/{model}", job_type=role, config=config,
                                   tensorboard_run=model))
            opened[0].log(epoch_metrics(record), record["epoch"])
        except Exception as err:  # noqa: BLE001 - tracking never fails a training job
            log.warning("tracking %s: %s: %s; training goes on without it", model, type(err).__name__, err)
            broken.append(err)

    failed = True
    try:
        yield on_epoch
        failed = False
    finally:
        if opened:
            try:
                opened[0].finish(failed)
            except Exception as err:  # noqa: BLE001
                log.warning("tracking %s: finishing the run failed: %s: %s", model, type(err).__name__, err)
