"""Asking SLURM about jobs: squeue, scontrol, sinfo and the job-completion log.

Every query runs a SLURM client command with a timeout and raises `SlurmError` naming the command when it
fails, so callers decide what a cluster that does not answer means for them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# What `squeue` prints per job (it has no field separator of its own); the comment goes last because
# it is free text.
_SQUEUE_FIELDS = ("id", "state", "workdir", "submitted", "reason", "name", "comment")
_SQUEUE_FORMAT = "%i|%T|%Z|%V|%r|%j|%k"
# scontrol's `Key=Value Key=Value ...`: a value runs up to the next ` Key=`.
_KEY_VALUE = re.compile(r"(?:^|\s)([A-Za-z][\w/:]*)=(.*?)(?=\s[A-Za-z][\w/:]*=|\s*$)")


class SlurmError(RuntimeError):
    """A SLURM client command failed or is not installed."""


@dataclass(frozen=True)
class SlurmJob:
    id: str
    state: str
    workdir: str
    submitted: float  # seconds since the epoch
    reason: str
    name: str
    comment: str


def installed() -> bool:
    """Whether the SLURM client is on PATH (it says nothing about a controller answering)."""
    return shutil.which("squeue") is not None


def run(*cmd: str, timeout: float = 30) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as err:
        raise SlurmError(f"`{cmd[0]}` is not installed") from err
    except subprocess.TimeoutExpired as err:
        raise SlurmError(f"`{' '.join(cmd)}` did not answer within {timeout:.0f} s") from err
    if proc.returncode != 0:
        raise SlurmError(f"`{' '.join(cmd)}` failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def slurm_time(text: str) -> float:
    """SLURM's local `2026-01-31T12:00:00` as seconds since the epoch (0 for Unknown/None)."""
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0


def my_jobs(all_states: bool = False) -> list[SlurmJob]:
    """The calling user's jobs: queued and running ones, or with `all_states` also those that ended within
    the controller's MinJobAge."""
    cmd = ["squeue", "--me", "--noheader", f"--format={_SQUEUE_FORMAT}"]
    if all_states:
        cmd.append("--states=all")
    jobs = []
    for line in run(*cmd).splitlines():
        fields = line.split("|", len(_SQUEUE_FIELDS) - 1)
        if len(fields) != len(_SQUEUE_FIELDS):
            continue
        row = dict(zip(_SQUEUE_FIELDS, fields))
        row["submitted"] = slurm_time(row["submitted"])
        jobs.append(SlurmJob(**row))
    return jobs


def key_values(line: str) -> dict[str, str]:
    """`Key=Value Key=Value ...` (scontrol -o, the job-completion log) as a dict."""
    return {key: value.strip() for key, value in _KEY_VALUE.findall(line)}


def job_record(job_id: str) -> dict[str, str]:
    """`scontrol show job`: state, reason, exit code, log file, ... of a job the controller still knows
    (up to MinJobAge seconds after it ended)."""
    return key_values(run("scontrol", "show", "job", "--oneliner", job_id).strip())


def config() -> dict[str, str]:
    """The controller's configuration (`scontrol show config`), key -> value."""
    out = {}
    for line in run("scontrol", "show", "config").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def jobcomp_records(cluster_config: dict[str, str]) -> list[dict[str, str]]:
    """The job-completion log, one dict per finished job, where the cluster writes one to a file
    (JobCompType=jobcomp/filetxt) this machine can read; else []."""
    if cluster_config.get("JobCompType") != "jobcomp/filetxt":
        return []
    path = Path(cluster_config.get("JobCompLoc", ""))
    try:
        return [key_values(line) for line in path.read_text().splitlines() if line.strip()]
    except OSError:
        return []


def partitions() -> dict[str, set[str]]:
    """Partition name -> the generic resources (GRES) of its nodes, e.g. {'gpu': {'gpu:2'}}."""
    out: dict[str, set[str]] = {}
    for line in run("sinfo", "--noheader", "--format=%R|%G").splitlines():
        name, _, gres = line.partition("|")
        out.setdefault(name.strip(), set()).add(gres.strip())
    return out


def job_started_at(job_id: str) -> float:
    """When a job started, in seconds since the epoch (SLURM reports whole seconds)."""
    return slurm_time(job_record(job_id).get("StartTime", ""))


def seconds_since_start(job_id: str | None = None) -> float | None:
    """Seconds since this SLURM job (or `job_id`) started; None outside SLURM or if SLURM does not say."""
    job_id = job_id or os.environ.get("SLURM_JOB_ID")
    if not job_id:
        return None
    try:
        started = job_started_at(job_id)
    except SlurmError:
        return None
    return time.time() - started if started else None
