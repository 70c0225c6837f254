"""How soon the run notices a finished SLURM job, and so submits the jobs that wait for it.

Snakemake's SLURM plugin (2.x) asks SLURM for the states of its jobs once per status-check interval: first after
`--slurm-init-seconds-before-status-checks` seconds (40 by default), then 10 s later at each check that finds
no job finished, up to 180 s, and back to the initial interval after one that does. A job that ends while the
interval has grown waits that long for its successors: between two waves of the tiny config's jobs that was
13-40 s. `steady_status_checks` keeps the interval at its initial value (the profile sets 10 s), so a finished
job's successors are submitted within about that long.

Each check is one `squeue --me --states=all` (starlight/slurm/names.py), so a run asks SLURM 60 / interval
times a minute: 6 at 10 s. SLURM's own limit on what one user may ask of its controller is its RPC rate limit
(`SlurmctldParameters=rl_enable`, Slurm 23.02 and later): a bucket of 30 requests refilled with 2 a second by
default, 120 a minute, so a run at 10 s uses 5 % of it.

`submission_gaps` measures it: from the job-completion log, the seconds from the end of a job to the submission
of each job submitted after it (benchmarks/slurm_gaps.py, tests/cluster/test_slurm.py).
"""

from __future__ import annotations

import importlib

from .names import PLUGIN
from .queries import slurm_time


def steady_status_checks() -> bool:
    """Make the SLURM plugin check job states every `--slurm-init-seconds-before-status-checks` seconds, without
    its back-off. Returns False (and changes nothing) if the plugin is not installed or lacks what this relies on:
    the interval then grows as the plugin's own."""
    try:
        executor = importlib.import_module(PLUGIN).Executor
    except (ImportError, AttributeError):
        return False
    interval = getattr(executor, "next_seconds_between_status_checks", None)
    if not isinstance(interval, property) or interval.fset is None:
        return False
    if getattr(interval.fset, "steady", False):
        return True

    def at_most_initial(self, seconds):
        initial = getattr(getattr(self.workflow, "executor_settings", None), "init_seconds_before_status_checks",
                          None)
        interval.fset(self, seconds if initial is None else min(seconds, initial))

    at_most_initial.steady = True
    executor.next_seconds_between_status_checks = property(interval.fget, at_most_initial, interval.fdel,
                                                           interval.__doc__)
    return True


def submission_gaps(records: list[dict[str, str]]) -> list[tuple[str, float]]:
    """(job name, seconds) for each job submitted after another job of `records` had ended: the seconds from the
    last such end to its submission. `records` are one run's jobs from the job-completion log (SubmitTime,
    EndTime; whole seconds)."""
    ends = sorted(slurm_time(r.get("EndTime", "")) for r in records)
    ends = [end for end in ends if end]
    gaps = []
    for record in sorted(records, key=lambda r: slurm_time(r.get("SubmitTime", ""))):
        submitted = slurm_time(record.get("SubmitTime", ""))
        before = [end for end in ends if end <= submitted]
        if submitted and before:
            gaps.append((record.get("Name", "?"), submitted - before[-1]))
    return gaps
