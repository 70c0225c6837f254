"""Jobs of an earlier run: a snakemake killed on the login node (SIGKILL, a lost session) leaves its SLURM jobs
running on other machines. A rerun that cleared its lock and submitted again would run a second copy of each,
both writing the same files. Before anything is cleared or submitted, the workflow asks SLURM for the user's
queued and running jobs submitted from this folder by Snakemake, and stops (or waits) while there are any.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from .queries import SlurmError, SlurmJob, installed, my_jobs

WAIT_OPTION = "wait_for_slurm_jobs"


class EarlierJobsRunning(RuntimeError):
    """SLURM still queues or runs jobs of an earlier run of this folder."""


def earlier_jobs(workdir: str | Path) -> list[SlurmJob]:
    """The calling user's queued and running SLURM jobs that Snakemake submitted from `workdir` (its SLURM plugin
    sets their working directory and a `rule_...` comment), other than the job this process runs in."""
    workdir = os.path.realpath(workdir)
    own = os.environ.get("SLURM_JOB_ID")
    return [job for job in my_jobs() if os.path.realpath(job.workdir) == workdir
            and job.comment.startswith("rule_") and job.id != own]


def scancel_command(jobs: list[SlurmJob]) -> str:
    return "scancel " + " ".join(job.id for job in jobs)


def describe(jobs: list[SlurmJob], workdir: str | Path) -> str:
    rows = "\n".join(f"    {job.id:>10}  {job.state:<11} {job.name}" for job in jobs)
    return (f"SLURM still runs {len(jobs)} job(s) of an earlier run of {os.path.realpath(workdir)}:\n{rows}\n"
            "Submitting now would start a second copy of them, and both would write the same files.\n"
            "  - if the snakemake run that submitted them still works (on another machine), let it finish;\n"
            f"  - to end them:      {scancel_command(jobs)}\n"
            f"  - to wait for them: rerun with {WAIT_OPTION}=True added to --config")


def check_earlier_jobs(workdir: str | Path, wait: bool, say: Callable[[str], None], warn_unanswered: bool = True,
                       poll_seconds: float = 5.0) -> list[SlurmJob]:
    """Raise `EarlierJobsRunning` while SLURM queues or runs jobs of an earlier run of `workdir`, or, with `wait`,
    poll until they have all ended. Returns the jobs that were found (none: nothing to wait for).

    Does nothing where SLURM is not installed; where SLURM does not answer, says so (through `say`) if
    `warn_unanswered`.
    """
    if not installed():
        return []
    try:
        jobs = earlier_jobs(workdir)
    except SlurmError as err:
        if warn_unanswered:
            say(f"Could not ask SLURM whether jobs of an earlier run still run ({err}); if one may still run, "
                "check `squeue --me` before going on.")
        return []
    if not jobs:
        return []
    if not wait:
        raise EarlierJobsRunning(describe(jobs, workdir))
    say(describe(jobs, workdir).splitlines()[0] + f" waiting for them to end ({WAIT_OPTION}).")
    remaining = jobs
    while remaining:
        time.sleep(poll_seconds)
        try:
            remaining = earlier_jobs(workdir)
        except SlurmError as err:
            say(f"SLURM did not answer ({err}); asking again.")
    say(f"The {len(jobs)} job(s) of the earlier run have ended.")
    return jobs
