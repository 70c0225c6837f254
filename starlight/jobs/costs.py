"""Step `costs`: the experiment's table of what each job cost (report/costs.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..io.phases import phase
from ..pipeline.job import write_csv
from ..report.costs import COLUMNS, job_costs

log = logging.getLogger("starlight")


def costs_job(benchmarks: str, logs: str, out_csv: str) -> None:
    """The table of the jobs whose Snakemake benchmarks are in folder `benchmarks` and logs in `logs`."""
    with phase("load"):
        rows = job_costs(benchmarks, logs)
    write_csv(pd.DataFrame(rows, columns=COLUMNS), out_csv)
    total = rows[-1]  # the all-jobs row
    log.info("%s: %d jobs, %.1f s wall, %.1f s CPU, compute share %.3f of the jobs' wall time", Path(benchmarks).parent.name,
             len(rows) - 1, total["wall_s"], total["cpu_s"], total["compute_share"])
