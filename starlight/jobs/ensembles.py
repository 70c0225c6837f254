"""Step `ensembles_table`: every star's ensemble rows in one table, and a figure. Apart from the per-star step so
that a change to the figure does not re-evaluate any ensemble."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..pipeline.job import write_csv
from ..report.plots import plot_ensembles

log = logging.getLogger("starlight")


def ensembles_job(experiment: str, csvs: list[str], out_csv: str, figure_dir: str) -> None:
    """Every star's rows in one table, and a figure of accuracy and NLL per method."""
    table = pd.concat([pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in csvs], ignore_index=True)
    table.insert(0, "experiment", experiment)
    write_csv(table, out_csv)
    for path in plot_ensembles(table, Path(figure_dir), f"{experiment}: ensembles along the star domain (test)"):
        log.info("wrote %s", path)
