"""What went wrong with a run's failed SLURM jobs: for each, the rule and wildcards, SLURM's state and reason, what
the job's log says happened (out of memory, time limit, cancelled) and the last lines of that log.

The state comes from `squeue`/`scontrol` while the controller still knows the job (MinJobAge after it ended),
else from the job-completion log where the cluster writes one; neither needs SLURM accounting.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .queries import SlurmError, config, job_record, jobcomp_records, my_jobs, slurm_time

CLOCK_SKEW = 5  # seconds the controller's clock may lag behind this machine's
ENDED_BADLY = {"BOOT_FAIL", "CANCELLED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
               "TIMEOUT"}
STATE_MEANING = {
    "BOOT_FAIL": "its node failed to boot",
    "CANCELLED": "it was cancelled (scancel, an administrator, or a preemption without requeue)",
    "DEADLINE": "it missed its deadline",
    "FAILED": "it exited with an error",
    "NODE_FAIL": "its node failed",
    "OUT_OF_MEMORY": "it used more memory than it asked for (resource mem_mb)",
    "PREEMPTED": "it was preempted by another job",
    "TIMEOUT": "it ran past its time limit (resource runtime, in minutes)",
}
# What SLURM writes into a job's log when it kills it, most specific first.
LOG_SIGNS = (
    (re.compile(r"Exceeded job memory limit|oom[-_ ]kill event|Out Of Memory", re.IGNORECASE),
     "it ran out of memory: it used more than it asked for (resource mem_mb)"),
    (re.compile(r"DUE TO TIME LIMIT"), "it ran past its time limit (resource runtime, in minutes)"),
    (re.compile(r"DUE TO PREEMPTION"), "it was preempted by another job"),
    (re.compile(r"\*\*\* (JOB|STEP) \S+ ON \S+ CANCELLED AT"), "it was cancelled"),
)
# SLURM's own lines in a job's log, and the errors a rule logs (starlight.pipeline.runtime's format).
SLURM_LINE = re.compile(r"slurmstepd|srun: error|\*\*\* (JOB|STEP) ")
ERROR_LINE = re.compile(r"^\S+ \S+ (?:CRITICAL|ERROR) (.*)$", re.MULTILINE)
TAIL_LINES = 8


@dataclass
class FailedJob:
    id: str
    name: str
    state: str
    reason: str = ""
    exit_code: str = ""
    log: str = ""


def run_jobs(workdir: str | Path, since: float, names: set[str]) -> dict[str, FailedJob]:
    """This run's SLURM jobs (submitted from `workdir` at or after `since` under one of `names`) that ended
    badly, by SLURM job id."""
    workdir = os.path.realpath(workdir)
    found: dict[str, FailedJob] = {}
    try:
        for job in my_jobs(all_states=True):
            if os.path.realpath(job.workdir) == workdir and job.submitted >= since - CLOCK_SKEW and job.name in names:
                found[job.id] = FailedJob(job.id, job.name, job.state, job.reason)
    except SlurmError:
        pass
    try:
        for rec in jobcomp_records(config()):
            if (os.path.realpath(rec.get("WorkDir", "")) == workdir and rec.get("Name") in names
                    and slurm_time(rec.get("SubmitTime", "")) >= since - CLOCK_SKEW and rec.get("JobId") not in found):
                found[rec["JobId"]] = FailedJob(rec["JobId"], rec["Name"], rec.get("JobState", ""),
                                                exit_code=rec.get("ExitCode", ""))
    except SlurmError:
        pass
    return {i: job for i, job in found.items() if job.state.split()[0] in ENDED_BADLY}


def add_details(job: FailedJob, slurm_logdir: Path) -> None:
    """Reason, exit code and log file from `scontrol show job` (if the controller still knows the job)."""
    try:
        rec = job_record(job.id)
    except SlurmError:
        rec = {}
    job.reason = rec.get("Reason", job.reason)
    job.exit_code = rec.get("ExitCode", job.exit_code)
    job.log = rec.get("StdOut", "")
    if not job.log or not Path(job.log).exists():
        logs = sorted(slurm_logdir.rglob(f"{job.id}.log"))
        job.log = str(logs[0]) if logs else ""


def what_happened(state: str, slurm_log: str, rule_log: str = "") -> str:
    """From SLURM's lines in the job's log if it killed the job, else from its state, with the last error the
    rule logged."""
    for sign, meaning in LOG_SIGNS:
        if sign.search(slurm_log):
            return meaning
    meaning = STATE_MEANING.get(state.split()[0], state)
    errors = ERROR_LINE.findall(rule_log)
    return f"{meaning}: {errors[-1]}" if errors else meaning


def read(path: str | Path | None) -> str:
    return Path(path).read_text(errors="replace") if path and Path(path).is_file() else ""


def last_rule_log(paths: list[str], since: float) -> str | None:
    """The rule log written last during this run: for a group job, that of the job that failed."""
    written = [p for p in paths if Path(p).is_file() and Path(p).stat().st_mtime >= since]
    return max(written, key=lambda p: Path(p).stat().st_mtime, default=None)


def rule_log_note(path: str, since: float) -> str:
    """'' for a rule log this run wrote; else what the path is: a log an earlier run left, or none at all."""
    file = Path(path)
    if not file.is_file():
        return " (not written: the job failed before its rule started)"
    if file.stat().st_mtime < since - CLOCK_SKEW:
        return " (from an earlier run: this job did not write it)"
    return ""


def explain_exit(reason: str, exit_code: str) -> str:
    """SLURM's reason and exit code `status:signal` in words, where they need them."""
    words = []
    status, _, signal = exit_code.partition(":")
    if signal not in ("", "0"):
        name = {"9": "SIGKILL", "15": "SIGTERM", "6": "SIGABRT", "11": "SIGSEGV"}.get(signal, f"signal {signal}")
        why = " (SLURM sends it to a step over its memory, or at the end of a time limit's grace period)"
        words.append(f"exit code {exit_code}: killed by {name}" + (why if signal == "9" else ""))
    elif status not in ("", "0"):
        words.append(f"exit code {exit_code}: the job's script exited with status {status}")
    if reason == "JobLaunchFailure":
        words.append("reason JobLaunchFailure: SLURM's word for a job whose step ended before it reported back "
                     "(it names no cause; the lines below do)")
    return "; ".join(words)


def tail(text: str, n: int) -> list[str]:
    return [f"    | {line}" for line in [line for line in text.splitlines() if line.strip()][-n:]]


def describe(job: FailedJob, label: Mapping[str, object], since: float) -> str:
    """`label`: members ([(rule, wildcards)], one per job a group job ran) and rule_logs."""
    slurm_log = read(job.log)
    rule_log_path = last_rule_log(list(label.get("rule_logs", [])), since)
    rule_log = read(rule_log_path)
    lines = [(f"SLURM job {job.id} ({job.name}): {job.state}, reason {job.reason or 'not reported'}, "
              f"exit code {job.exit_code or 'not reported'}"),
             f"    what happened: {what_happened(job.state, slurm_log, rule_log)}"]
    if explained := explain_exit(job.reason, job.exit_code):
        lines.append(f"    ({explained})")
    for rule, wildcards in label.get("members", []):
        lines.append(f"    rule {rule}, wildcards " + ", ".join(f"{k}={v}" for k, v in wildcards.items()))
    lines += [f"    rule log:  {path}{rule_log_note(path, since)}" for path in label.get("rule_logs", [])]
    lines.append(f"    SLURM log: {job.log or 'none found'}")
    if rule_log:
        lines += [f"    last lines of {rule_log_path}:", *tail(rule_log, TAIL_LINES)]
    said = "\n".join(line for line in slurm_log.splitlines() if SLURM_LINE.search(line))
    if said or not rule_log:
        lines += [f"    {'SLURM in' if said else 'last lines of'} {job.log}:", *tail(said or slurm_log, TAIL_LINES)]
    return "\n".join(lines)


def failure_report(workdir: str | Path, since: float, labels: Mapping[str, Mapping[str, object]],
                   slurm_logdir: str | Path = ".snakemake/slurm_logs") -> str:
    """A report of this run's SLURM jobs that ended badly (`labels`: job name -> rule, wildcards and logs of
    what it ran), or '' if SLURM reports none."""
    failed = run_jobs(workdir, since, set(labels))
    if not failed:
        return ""
    parts = []
    for job_id in sorted(failed, key=lambda i: [int(n) for n in re.findall(r"\d+", i)]):
        job = failed[job_id]
        add_details(job, Path(slurm_logdir))
        parts.append(describe(job, labels[job.name], since))
    return (f"{len(failed)} SLURM job(s) of this run ended badly:\n" + "\n".join(parts) + "\n(Snakemake's own "
            "error block for a failed job above prints `message: None` for a rule without a `message:` directive: "
            "it says nothing about the failure.)")
