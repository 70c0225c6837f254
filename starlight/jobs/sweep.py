"""Step `sweep`: an experiment's table and figures across its sweep (every variant's barriers.csv)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..io.checkpoint import atomic_write
from ..pipeline.job import write_csv
from ..report.sweep_plots import plot_sweep
from ..report.table import markdown, sweep_table

log = logging.getLogger("starlight")


def sweep_job(experiment: str, variants: list[dict], barrier_csvs: list[str], paper: list[dict], out_csv: str,
              out_md: str, figure_dir: str, bootstrap: dict | None = None) -> None:
    """`variants[i]` describes the variant whose barriers.csv is `barrier_csvs[i]`: its `name`, `axis` and
    `value` (None for the base), the held-out `counts` its rows read, and the held-out `seed_start`. `bootstrap`
    ({"samples", "seed"}) sets the intervals of the table's ratios (default 2000 resamples, seed 0)."""
    table = sweep_table([({"variant": v["name"], "axis": v["axis"], "value": v["value"]}, pd.read_csv(path),
                          v["counts"], v["seed_start"]) for v, path in zip(variants, barrier_csvs, strict=True)],
                        paper, variants[0]["star_base"] if variants else None, bootstrap)
    write_csv(table, out_csv)
    atomic_write(out_md, lambda tmp: Path(tmp).write_text(f"# {experiment}\n\n{markdown(table)}"))
    Path(figure_dir).mkdir(parents=True, exist_ok=True)
    for path in plot_sweep(table, Path(figure_dir), experiment, variants[0]["axis_base"] if variants else {}):
        log.info("wrote %s", path)
    log.info("%s: %d table rows from %d variant(s)", experiment, len(table), len(variants))
