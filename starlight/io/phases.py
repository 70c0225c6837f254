"""Where a job's time goes: start-up, loading, compute, writing; one parseable line per job, and the compute share
of a whole run computed from its logs.

A job's clock starts when its process started (Linux: /proc), so `startup` holds the interpreter, Snakemake's
script preamble and every import, up to `start_job()` (called by `runtime.setup_logging`, the first thing every
workflow script does). From then on time counts as `compute` except inside `phase("load")` (datasets,
checkpoints, CSVs read) and `phase("write")` (every file written); phases nest, the innermost counts. At exit the
job logs, in its rule log:

    ... INFO phases {"wall": {"startup": 2.1, "load": 0.3, "compute": 5.2, "write": 0.1}, "cpu": {...}}

(seconds of wall-clock and of process CPU time). `run_phases(folder)` sums those lines over a results folder;
`python -m starlight.io.phases results/<exp> [logs]` prints the table and the compute share.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("starlight")
PHASES = ("startup", "load", "compute", "write")
MARK = "phases "


def _process_age() -> float:
    """Seconds since this process started (0 where /proc is not there: start-up then counts from import)."""
    try:
        stat = Path("/proc/self/stat").read_text()
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, after the command name
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


class PhaseClock:
    """Wall and CPU seconds per phase of one process."""

    def __init__(self):
        self.wall = dict.fromkeys(PHASES, 0.0)
        self.cpu = dict.fromkeys(PHASES, 0.0)
        self.stack = ["startup"]
        self.mark_wall = time.perf_counter() - _process_age()
        self.mark_cpu = 0.0  # process CPU time counts from the process's start
        self.started = False

    def _book(self) -> None:
        """Count the time since the last mark to the current phase."""
        now_wall, now_cpu = time.perf_counter(), time.process_time()
        current = self.stack[-1]
        self.wall[current] += now_wall - self.mark_wall
        self.cpu[current] += now_cpu - self.mark_cpu
        self.mark_wall, self.mark_cpu = now_wall, now_cpu

    def _enter(self, phase: str) -> None:
        self._book()
        self.stack.append(phase)

    def _leave(self) -> None:
        self._book()
        self.stack.pop()

    def start_job(self) -> None:
        """End start-up; what follows is compute unless marked otherwise. Logs the phases line at exit."""
        if self.started:
            return
        self.started = True
        self._book()
        self.stack = ["compute"]
        atexit.register(self.log)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if name not in PHASES:
            raise ValueError(f"unknown phase {name!r}; expected one of {', '.join(PHASES)}")
        self._enter(name)
        try:
            yield
        finally:
            self._leave()

    def snapshot(self) -> dict[str, dict[str, float]]:
        self._book()
        return {"wall": {k: round(v, 4) for k, v in self.wall.items()},
                "cpu": {k: round(v, 4) for k, v in self.cpu.items()}}

    def log(self) -> None:
        log.info("%s%s", MARK, json.dumps(self.snapshot()))


CLOCK = PhaseClock()
phase = CLOCK.phase
start_job = CLOCK.start_job


def parse_line(line: str) -> dict | None:
    """The phases record in one log line, or None."""
    at = line.find(MARK + "{")
    if at < 0:
        return None
    try:
        return json.loads(line[at + len(MARK):])
    except json.JSONDecodeError:
        return None


def run_phases(*folders: str | Path) -> dict:
    """Summed seconds per phase over every job log (`*.log`, searched recursively) under `folders` (a log file
    counts itself), with the number of jobs and the compute share of the summed total: {"jobs": n, "wall": {...},
    "cpu": {...}, "compute_share": {"wall": x, "cpu": y}}."""
    sums = {"wall": dict.fromkeys(PHASES, 0.0), "cpu": dict.fromkeys(PHASES, 0.0)}
    jobs = 0
    for folder in map(Path, folders):
        for path in [folder] if folder.is_file() else sorted(folder.rglob("*.log")):
            records = [r for r in map(parse_line, path.read_text(errors="replace").splitlines()) if r]
            for record in records[-1:]:  # a job logs one line; a rerun's log replaces the earlier one
                jobs += 1
                for clock, seconds in sums.items():
                    for k in PHASES:
                        seconds[k] += float(record[clock].get(k, 0.0))
    share = {clock: (sums[clock]["compute"] / total if (total := sum(sums[clock].values())) else 0.0)
             for clock in sums}
    return {"jobs": jobs, **sums, "compute_share": share}


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("usage: python -m starlight.io.phases RESULTS_FOLDER_OR_LOG [MORE ...]")
    out = run_phases(*argv)
    print(f"{out['jobs']} jobs")
    print(f"{'phase':<10}{'wall s':>10}{'cpu s':>10}")
    for k in PHASES:
        print(f"{k:<10}{out['wall'][k]:>10.2f}{out['cpu'][k]:>10.2f}")
    print(f"{'total':<10}{sum(out['wall'].values()):>10.2f}{sum(out['cpu'].values()):>10.2f}")
    print(f"compute share: {out['compute_share']['wall']:.3f} of wall time, {out['compute_share']['cpu']:.3f} of "
          f"CPU time")


if __name__ == "__main__":
    main(sys.argv[1:])
