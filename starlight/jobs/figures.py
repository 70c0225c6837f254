"""Step `figures`: the experiment's curves, the loss along the path in absolute terms and the barrier
distributions, as PNG and SVG."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..io.phases import phase
from ..report.plots import plot_barriers, plot_curves, plot_path_loss

log = logging.getLogger("starlight")


def figures_job(experiment: str, barriers_csv: str, curves_csv: str, out_dir: str) -> None:
    with phase("load"):
        barriers, curves = pd.read_csv(barriers_csv), pd.read_csv(curves_csv)
    out = Path(out_dir)
    paths = plot_curves(curves, out, f"{experiment}: loss and accuracy along the path (aligned, mean ± std)")
    paths += plot_path_loss(curves, out, f"{experiment}: loss along the path in absolute terms (aligned, mean ± std)")
    for p in paths + plot_barriers(barriers, out, f"{experiment}: barriers"):
        log.info("wrote %s", p)
