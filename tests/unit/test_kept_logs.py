"""The SLURM plugin's per-job logs of the last runs are kept, older ones deleted (starlight/slurm/kept_logs.py)."""

import os

import pytest

from starlight.slurm.kept_logs import RUNS, keep_last_runs, log_dir


def write_log(folder, name, written):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("slurm log\n")
    os.utime(path, (written, written))
    return path


def test_the_logs_of_the_last_runs_are_kept(tmp_path):
    logs = tmp_path / "slurm_logs"
    early = write_log(logs, "train/tiny_anchor_0/11.log", 50)  # from before the record began
    assert keep_last_runs(logs, 2, 100) == []  # one run recorded of the two kept: early may be a kept run's
    first = write_log(logs, "train/tiny_anchor_1/12.log", 110)
    assert keep_last_runs(logs, 2, 200) == [early]  # the runs of 100 and 200 are kept; early is older
    second = write_log(logs, "barrier/tiny_star/21.log", 210)
    assert keep_last_runs(logs, 2, 300) == [first]  # the runs of 200 and 300 are kept
    assert not (logs / "train").exists()  # emptied folders go too
    assert second.exists() and (logs / RUNS).read_text().split() == ["200.000", "300.000"]
    third = write_log(logs, "train_star/tiny_star/31.log", 310)
    assert keep_last_runs(logs, 3, 400) == []  # keeping more runs than recorded deletes nothing
    assert keep_last_runs(logs, 1, 500) == [second, third]


def test_at_least_one_run_is_kept(tmp_path):
    with pytest.raises(ValueError, match="slurm_log_runs=0: keep the logs of at least 1 run"):
        keep_last_runs(tmp_path, 0, 1)


def test_the_log_folder_is_the_plugins(tmp_path):
    assert log_dir(None, tmp_path) == tmp_path / ".snakemake" / "slurm_logs"
    assert log_dir("my_logs", tmp_path) == tmp_path / "my_logs"
    assert log_dir("/abs/logs", tmp_path) == tmp_path / "/abs/logs"
