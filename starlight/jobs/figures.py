"""Step `figures`: the experiment's curves and barrier distributions as PNG and SVG."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..phases import phase
from ..plots import plot_barriers, plot_curves

log = logging.getLogger("starlight")


def figures_job(experiment: str, barriers_csv: str, curves_csv: str, out_dir: str) -> None:
    with phase("load"):
        barriers, curves = pd.read_csv(barriers_csv), pd.read_csv(curves_csv)
    for p in plot_curves(curves, Path(out_dir), f"{experiment}: loss and accuracy along the path "
                         "(aligned, mean ± std)") + plot_barriers(barriers, Path(out_dir), f"{experiment}: barriers"):
        log.info("wrote %s", p)
