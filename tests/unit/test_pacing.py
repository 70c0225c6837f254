"""How soon a finished SLURM job is noticed (starlight/slurm/pacing.py): the status-check interval held at its
initial value, and the end-to-submission gaps read from the job-completion log. On the local cluster:
tests/cluster/test_slurm.py::test_finished_jobs_are_followed_within_15_seconds."""

from types import SimpleNamespace

import pytest

from starlight.slurm import pacing

plugin = pytest.importorskip("snakemake_executor_plugin_slurm")


def executor(initial):
    """The plugin's real executor class, with just the settings the interval reads (building a whole one needs a
    running workflow)."""
    job_executor = object.__new__(plugin.Executor)
    job_executor.workflow = SimpleNamespace(executor_settings=SimpleNamespace(init_seconds_before_status_checks=initial),
                                            remote_execution_settings=SimpleNamespace(seconds_between_status_checks=10))
    job_executor._next_seconds_between_status_checks = None
    return job_executor


def test_the_interval_stays_at_its_initial_value(monkeypatch):
    monkeypatch.setattr(plugin.Executor, "next_seconds_between_status_checks",
                        plugin.Executor.next_seconds_between_status_checks)  # restored after the test
    job_executor = executor(10)
    job_executor.next_seconds_between_status_checks = 50
    assert job_executor.next_seconds_between_status_checks == 50  # the plugin's own: it grows

    assert pacing.steady_status_checks()
    assert pacing.steady_status_checks()  # a second call wraps nothing twice
    for asked, held in ((20, 10), (180, 10), (10, 10), (5, 5)):
        job_executor.next_seconds_between_status_checks = asked
        assert job_executor.next_seconds_between_status_checks == held
    slower = executor(60)
    slower.next_seconds_between_status_checks = 70
    assert slower.next_seconds_between_status_checks == 60


def record(name, submitted, ended):
    return {"Name": name, "SubmitTime": f"2026-12-07T10:{submitted}", "EndTime": f"2026-12-07T10:{ended}"}


def test_gaps_run_from_the_last_end_before_each_submission():
    records = [record("prepare", "00:00", "00:05"), record("train:0", "00:06", "00:40"),
               record("train:1", "00:06", "00:52"), record("star", "01:00", "01:30"),
               record("barrier", "01:33", "01:50"), record("ensemble", "01:41", "01:55")]
    assert pacing.submission_gaps(records) == [("train:0", 1.0), ("train:1", 1.0), ("star", 8.0),
                                               ("barrier", 3.0), ("ensemble", 11.0)]
    assert pacing.submission_gaps(records[:1]) == []  # the first wave follows no job
    unknown = {"Name": "x", "SubmitTime": "Unknown", "EndTime": "Unknown"}
    assert pacing.submission_gaps([unknown, *records[:2]]) == [("train:0", 1.0)]
