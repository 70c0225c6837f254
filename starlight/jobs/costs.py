"""Step `benchmarks`: the experiment's table of what each job cost (starlight/costs.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..costs import COLUMNS, job_costs
from ..phases import phase
from .common import write_csv

log = logging.getLogger("starlight")


def costs_job(results: str, out_csv: str) -> None:
    with phase("load"):
        rows = job_costs(results)
    write_csv(pd.DataFrame(rows, columns=COLUMNS), out_csv)
    total = rows[-1]  # the all-jobs row
    log.info("%s: %d jobs, %.1f s wall, %.1f s CPU, compute share %.3f of the jobs' wall time", Path(results).name,
             len(rows) - 1, total["wall_s"], total["cpu_s"], total["compute_share"])
