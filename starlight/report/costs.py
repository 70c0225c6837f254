"""What each job of an experiment cost: Snakemake's benchmark of the job (wall and CPU seconds, peak memory) next
to the phases its log reports (phases.py), one row per job, and a last row for them all with the run's compute
share.

Every rule writes its benchmark to `results/<exp>/benchmarks/<rule>[/<wildcards>].tsv` and its log to
`results/<exp>/logs/<rule>[/<wildcards>].log`: the two paths name the job. The rules of a sweep (its table, the
recorded config) and this table's own job write there too when the sweep has a single experiment; they are not
jobs of the experiment and are left out.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from ..io.phases import PHASES, parse_line

NOT_EXPERIMENT_JOBS = ("sweep", "experiment_config", "costs")
# Snakemake's benchmark columns and the names they get here
BENCHMARK_COLUMNS = {"s": "wall_s", "cpu_time": "cpu_s", "max_rss": "max_rss_mb"}
COLUMNS = ["rule", "wildcards", *BENCHMARK_COLUMNS.values(), *(f"{p}_s" for p in PHASES), "compute_share"]
TOTAL = "all jobs"


def _number(text: str | None) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):  # Snakemake writes NA where it could not measure (a job of a few ms)
        return math.nan


def read_benchmark(path: Path) -> dict[str, float]:
    """The last measurement in a Snakemake benchmark file (one per repeat; the pipeline runs each job once)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows:
        raise ValueError(f"{path}: no measurement in this benchmark file")
    return {name: _number(rows[-1].get(column)) for column, name in BENCHMARK_COLUMNS.items()}


def read_phases(path: Path) -> dict[str, float] | None:
    """Wall seconds per phase from the job's log (its last phases line), or None without one."""
    if not path.is_file():
        return None
    records = [r for r in map(parse_line, path.read_text(errors="replace").splitlines()) if r]
    return {p: float(records[-1]["wall"].get(p, 0.0)) for p in PHASES} if records else None


def _share(phases: dict[str, float]) -> float:
    total = sum(phases.values())
    return phases["compute"] / total if total else math.nan


def job_costs(benchmarks: str | Path, logs: str | Path) -> list[dict]:
    """One row per job of an experiment, from its Snakemake benchmarks (folder `benchmarks`, one file per job as
    <rule>/<name>.tsv) and its logs (`logs`, laid out alike), then the `all jobs` row: summed seconds, the largest
    peak memory, and the compute share of the summed phases of the jobs that logged them."""
    benchmarks, logs = Path(benchmarks), Path(logs)
    rows = []
    for tsv in sorted(benchmarks.rglob("*.tsv")):
        job = tsv.relative_to(benchmarks).with_suffix("")
        if job.parts[0] in NOT_EXPERIMENT_JOBS:
            continue
        row = {"rule": job.parts[0], "wildcards": "/".join(job.parts[1:]), **read_benchmark(tsv)}
        phases = read_phases(logs / job.with_suffix(".log"))
        row |= {f"{p}_s": (phases[p] if phases else math.nan) for p in PHASES}
        row["compute_share"] = _share(phases) if phases else math.nan
        rows.append(row)
    if not rows:
        raise ValueError(f"{benchmarks}: no benchmark files of this experiment's jobs")
    total = {"rule": TOTAL, "wildcards": ""}
    for column in ("wall_s", "cpu_s", *(f"{p}_s" for p in PHASES)):
        total[column] = sum(r[column] for r in rows if not math.isnan(r[column]))
    total["max_rss_mb"] = max((r["max_rss_mb"] for r in rows if not math.isnan(r["max_rss_mb"])), default=math.nan)
    total["compute_share"] = _share({p: total[f"{p}_s"] for p in PHASES})
    return [*rows, total]
