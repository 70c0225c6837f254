"""Step `aggregate`: every pair's CSVs into the experiment's barriers, curves and summary tables."""

from __future__ import annotations

import logging

from ..io.phases import phase
from ..pipeline.job import write_csv
from ..report.aggregate import collect_barriers, collect_curves, group_columns, summarise

log = logging.getLogger("starlight")


def aggregate_job(experiment: str, barrier_csvs: list[str], curve_csvs: list[str], out_barriers: str,
                  out_curves: str, out_summary: str, star_columns: dict[str, dict] | None = None) -> None:
    with phase("load"):
        barriers = collect_barriers(experiment, barrier_csvs, star_columns)
        curves = collect_curves(barriers, curve_csvs)
    write_csv(curves, out_curves)
    write_csv(summarise(barriers), out_summary)
    write_csv(barriers, out_barriers)
    means = barriers.groupby(["pair_type", *group_columns(barriers)], dropna=False)["train_loss_barrier"].mean()
    log.info("%s: %d pairs; mean train loss barrier per group:\n%s", experiment, len(barriers), means.to_string())
