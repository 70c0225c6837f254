"""Weights & Biases: one run per model (live, from its training job) or per published experiment.

Offline runs are written under `folder/wandb/` (or `$WANDB_DIR/wandb/` when set) and uploaded later with
`wandb sync`; online runs upload as they go. The key is wandb's business: it reads it from the environment or its
own login, and nothing here sees it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd


class WandbRun:
    def __init__(self, settings: dict, *, name: str, group: str, job_type: str, config: dict, folder: str):
        import wandb

        self.wandb = wandb
        # Absolute: wandb's service process, which writes the run's files, need not share this job's directory.
        where = Path(os.environ.get("WANDB_DIR") or folder).resolve()
        where.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(project=settings["project"], entity=settings["entity"], group=group, name=name,
                              job_type=job_type, config=config, mode=settings["mode"], reinit="create_new",
                              settings=wandb.Settings(console="off", x_disable_stats=True, save_code=False,
                                                      disable_git=True), dir=str(where))

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.run.log(metrics, step=step)

    def summary(self, values: dict[str, float]) -> None:
        self.run.summary.update(values)

    def table(self, key: str, frame: pd.DataFrame) -> None:
        self.run.log({key: self.wandb.Table(dataframe=frame)}, commit=False)

    def curves(self, frame: pd.DataFrame) -> None:
        """Every pair's curve, as one table (long format: a row per pair, t and split)."""
        self.table("curves", frame)

    def files(self, name: str, kind: str, files: dict[str, Path]) -> None:
        """`files` (name in the artifact: path) as one artifact of type `kind`."""
        artifact = self.wandb.Artifact(re.sub(r"[^\w.-]+", "-", name), type=kind)
        for arcname, path in files.items():
            artifact.add_file(str(path), name=arcname)
        self.run.log_artifact(artifact)

    def finish(self, failed: bool = False) -> None:
        self.run.finish(exit_code=1 if failed else 0)
