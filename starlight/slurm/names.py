"""Readable SLURM jobs: each job is named by its rule and wildcards (`train:tiny,anchor,0`; a group job of three
`train:tiny,anchor,0+2`), and the SLURM plugin's misleading account warning is replaced by what it means.

snakemake-executor-plugin-slurm (2.x) names every job of a run by the run's UUID and finds their states by that
name (`squeue --name`/`sacct --name`). `name_jobs_by_rule` wraps the plugin's submit-command builder to name each
job after what it runs, and replaces its two status queries by the same queries over all of the user's jobs
(the plugin only ever looks up the ids of the jobs it submitted, so the other jobs listed do no harm).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

PLUGIN = "snakemake_executor_plugin_slurm"
# The plugin's functions this module wraps or replaces (module-level names in the plugin's package).
PATCHED = ("get_submit_command", "query_job_status_squeue", "query_job_status_sacct")


def rule_job_name(rule: str, wildcards: Mapping[str, object]) -> str:
    return f"{rule}:{','.join(str(v) for v in wildcards.values())}" if wildcards else rule


def job_name(job) -> str:
    """`rule:wildcard,values`; for a group job of n jobs, its first job's name and `+n-1`. The rule comes first:
    squeue's default NAME column shows 8 characters."""
    if job.is_group():
        members = sorted(rule_job_name(j.rule.name, j.wildcards_dict) for j in job.jobs)
        return members[0] + (f"+{len(members) - 1}" if len(members) > 1 else "")
    return rule_job_name(job.rule.name, job.wildcards_dict)


def job_label(job) -> dict[str, object]:
    """What a job runs, for reports: its rules with their wildcards, and the rules' log files."""
    members = sorted(job.jobs, key=lambda j: rule_job_name(j.rule.name, j.wildcards_dict)) if job.is_group() else [job]
    return {"members": [(j.rule.name, dict(j.wildcards_dict)) for j in members],
            "rule_logs": [str(path) for j in members for path in j.log]}


def squeue_status_command(run_id: str) -> str:
    return "squeue --me --states=all --noheader --format=%i|%T"


def sacct_status_command(run_id: str) -> str:
    since = f"{datetime.now() - timedelta(days=2):%Y-%m-%dT%H:00}"
    return (f"sacct -X --parsable2 --clusters all --noheader --format=JobIdRaw,State --starttime {since} "
            "--endtime now")


def name_jobs_by_rule(submitted: dict[str, object]) -> bool:
    """Make the SLURM plugin name jobs by rule and wildcards; record each submitted name -> job in `submitted`.

    Returns False (and changes nothing) if the plugin is not installed or lacks a function this relies on.
    """
    try:
        plugin = importlib.import_module(PLUGIN)
    except ImportError:
        return False
    if not all(callable(getattr(plugin, name, None)) for name in PATCHED):
        return False
    build = getattr(plugin.get_submit_command, "__wrapped__", plugin.get_submit_command)

    def submit_command(job, params, *args, **kwargs):
        name = job_name(job)
        submitted[name] = job
        # the plugin passes the job name as `run_uuid`
        return build(job, {**params, "run_uuid": name}, *args, **kwargs)

    submit_command.__wrapped__ = build
    plugin.get_submit_command = submit_command
    plugin.query_job_status_squeue = squeue_status_command
    plugin.query_job_status_sacct = sacct_status_command
    return True


class AccountWarning(logging.Filter):
    """The plugin guesses an account with `sacct ... | tail -1` run without a shell, so sacct gets `|` as an
    argument and every run prints `not able to get a SLURM account via sacct: sacct: invalid option`. Replace its
    three lines about it by one that says what happens."""

    GUESSING = ("No SLURM account given, trying to guess.", "Unable to guess SLURM account.")
    FAILED = "not able to get a SLURM account via sacct"
    MEANING = ("No slurm_account set: jobs are submitted without an account (set slurm_account in "
               "profiles/slurm/config.yaml if your cluster needs one).")

    def __init__(self):
        super().__init__()
        self.explained = False

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith(self.GUESSING):
            return False
        if self.FAILED in message:
            if self.explained:
                return False
            self.explained = True
            record.msg, record.args = self.MEANING, ()
        return True
