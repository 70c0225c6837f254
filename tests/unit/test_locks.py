import os
import subprocess
import sys
import time
from pathlib import Path

from starlight.pipeline.locks import clear_stale_locks, prepare_rerun, snakemake_processes, written_since


def make_lock(workdir):
    lockdir = workdir / ".snakemake" / "locks"
    lockdir.mkdir(parents=True)
    (lockdir / "0.output.lock").write_text("results/x.pt\n")
    return lockdir


def test_stale_lock_is_removed(tmp_path):
    lockdir = make_lock(tmp_path)
    assert clear_stale_locks(tmp_path) == [lockdir / "0.output.lock"]
    assert not any(lockdir.iterdir())


def test_lock_of_a_live_run_is_kept(tmp_path):
    lockdir = make_lock(tmp_path)
    # a process named snakemake working in this folder, as a running workflow would be
    live = subprocess.Popen(["bash", "-c", f"exec -a snakemake {sys.executable} -c 'import time; time.sleep(30)'"],
                            cwd=tmp_path)
    try:
        for _ in range(100):
            if snakemake_processes(tmp_path):
                break
            time.sleep(0.05)
        assert snakemake_processes(tmp_path) == [live.pid]
        assert clear_stale_locks(tmp_path) == []
        assert (lockdir / "0.output.lock").exists()
    finally:
        live.kill()
        live.wait()
    assert clear_stale_locks(tmp_path)  # once it has exited, the lock is stale


def test_other_folders_do_not_count(tmp_path):
    lockdir = make_lock(tmp_path / "a")
    other = tmp_path / "b"
    other.mkdir()
    live = subprocess.Popen(["bash", "-c", "exec -a snakemake sleep 30"], cwd=other)
    try:
        assert clear_stale_locks(tmp_path / "a")
        assert not any(lockdir.iterdir())
    finally:
        live.kill()
        live.wait()


def test_the_snakemake_of_a_remote_job_does_not_count(tmp_path):
    """A SLURM job runs snakemake (`--mode remote`) in the workflow's folder for its own rule; on a node that is
    also the login node it must not make the killed run's lock look alive."""
    lockdir = make_lock(tmp_path)
    command = f"exec -a snakemake {sys.executable} -c 'import time; time.sleep(30)' --target-jobs t --mode remote"
    job = subprocess.Popen(["bash", "-c", command], cwd=tmp_path)
    try:
        for _ in range(100):
            if Path(f"/proc/{job.pid}/cmdline").read_bytes().startswith(b"snakemake\0"):
                break
            time.sleep(0.05)
        assert snakemake_processes(tmp_path) == []
        assert clear_stale_locks(tmp_path) == [lockdir / "0.output.lock"]
    finally:
        job.kill()
        job.wait()


def test_prepare_rerun_without_slurm_removes_a_stale_lock(tmp_path, monkeypatch):
    lockdir = make_lock(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))  # no squeue: nothing to ask
    said = []
    rerun = prepare_rerun(tmp_path, say=said.append)
    assert rerun.removed_locks == [lockdir / "0.output.lock"]
    assert rerun.waited_for == [] and rerun.waited_since is None and said == []


def test_written_since(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.write_text("")
    os.utime(old, (1000, 1000))
    new.write_text("")
    assert written_since([new], 2000) and not written_since([old, new], 2000)
    assert not written_since([tmp_path / "missing"], 0) and not written_since([], 0)
