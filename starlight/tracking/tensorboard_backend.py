"""TensorBoard: one folder of event files per run (a model, or a published experiment), scalars by epoch.

A published experiment's pair curves are scalars whose step is the point's index on the path (0 to grid_points
- 1), its tables text, its figures images. A run's folder is emptied when the run opens: a rerun replaces its
events rather than adding a second copy of every epoch.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd


class TensorBoardRun:
    def __init__(self, folder: str):
        from torch.utils.tensorboard import SummaryWriter

        shutil.rmtree(folder, ignore_errors=True)
        self.writer = SummaryWriter(log_dir=folder)

    def log(self, metrics: dict[str, float], step: int) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)

    def summary(self, values: dict[str, float]) -> None:
        self.writer.add_text("summary", "\n".join(f"    {key}: {value:.6g}" for key, value in values.items()))

    def table(self, key: str, frame: pd.DataFrame) -> None:
        self.writer.add_text(key, "\n".join(f"    {line}" for line in frame.to_string(index=False).splitlines()))

    def curves(self, frame: pd.DataFrame) -> None:
        """Each pair's loss and accuracy along its path: `pairs/<pair_type>/<model1>__<model2>/<aligned or
        unaligned>/<split>/{loss,accuracy}`, one step per point."""
        keys = ["pair_type", "model1", "model2", "aligned", "split"]
        for (pair_type, model1, model2, aligned, split), points in frame.groupby(keys, sort=False):
            tag = f"pairs/{pair_type}/{model1}__{model2}/{'aligned' if aligned else 'unaligned'}/{split}"
            for step, (_, point) in enumerate(points.sort_values("t").iterrows()):
                self.writer.add_scalar(f"{tag}/loss", point["loss"], step)
                self.writer.add_scalar(f"{tag}/accuracy", point["accuracy"], step)

    def files(self, name: str, kind: str, files: dict[str, Path]) -> None:
        """The figures (PNG) as images and the Markdown files as text; TensorBoard holds no other file."""
        from matplotlib.image import imread

        for arcname, path in files.items():
            if path.suffix == ".png":
                self.writer.add_image(f"{name}/{arcname}", imread(path)[..., :3], dataformats="HWC")
            elif path.suffix == ".md":
                self.writer.add_text(f"{name}/{arcname}", path.read_text())

    def finish(self, failed: bool = False) -> None:
        self.writer.close()
