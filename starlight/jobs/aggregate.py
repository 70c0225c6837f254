"""Step `aggregate`: every pair's CSVs into the experiment's barriers, curves and summary tables."""

from __future__ import annotations

import logging

from ..aggregate import collect_barriers, collect_curves, summarise
from ..phases import phase
from .common import write_csv

log = logging.getLogger("starlight")


def aggregate_job(experiment: str, barrier_csvs: list[str], curve_csvs: list[str], out_barriers: str,
                  out_curves: str, out_summary: str) -> None:
    with phase("load"):
        barriers = collect_barriers(experiment, barrier_csvs)
        curves = collect_curves(barriers, curve_csvs)
    write_csv(curves, out_curves)
    write_csv(summarise(barriers), out_summary)
    write_csv(barriers, out_barriers)
    means = barriers.groupby(["pair_type", "n_anchors"], dropna=False)["train_loss_barrier"].mean()
    log.info("%s: %d pairs; mean train loss barrier per group:\n%s", experiment, len(barriers), means.to_string())
