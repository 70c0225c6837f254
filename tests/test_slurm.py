"""The tiny experiment through profiles/slurm on a real single-node SLURM cluster (scripts/slurm-cluster.sh).

Test-only settings are layered on top of the profile on the command line (TEST_OVERRIDES); everything
else is the profile as users get it.
"""

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, copy_workflow, run_snakemake
from test_workflow import digest, planned_jobs

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

CLUSTER = ROOT / "scripts" / "slurm-cluster.sh"
JOBCOMP = Path("/var/log/slurm/jobcomp.log")
# Layered on the profile for speed: an earlier first status check, and the tiny experiment's 10 barrier pairs
# in two SLURM jobs of 5 that run side by side on the test node's 2 CPUs (the profile packs 25 a job).
TEST_OVERRIDES = ("--profile", "profiles/slurm", "--slurm-init-seconds-before-status-checks", "5",
                  "--group-components", "barriers=5")
TINY = ("--configfile", "config/tiny.yaml")


@pytest.fixture(scope="module")
def cluster():
    if os.geteuid() != 0:
        pytest.skip("starting the local SLURM cluster needs root")
    subprocess.run([str(CLUSTER), "start"], check=True, timeout=600)
    try:
        yield
    finally:  # also when a test failed: leave no daemon behind
        subprocess.run([str(CLUSTER), "stop"], check=True, timeout=300)


def finished_jobs(workdir: Path) -> dict[str, str]:
    """SLURM job id -> final state, for the jobs run from `workdir` (from the job-completion log)."""
    if not JOBCOMP.exists():
        return {}
    jobs = {}
    for line in JOBCOMP.read_text().splitlines():
        if f"WorkDir={workdir} " in line + " ":
            jobs[re.search(r"JobId=(\d+)", line)[1]] = re.search(r"JobState=(\S+)", line)[1]
    return jobs


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("slurm"))
    proc = run_snakemake(workdir, *TEST_OVERRIDES, *TINY)
    return workdir, proc


def test_gpu_rules_ran_as_slurm_jobs(slurm_run):
    workdir, _ = slurm_run
    res = workdir / "results" / "tiny"
    jobs = finished_jobs(workdir)
    assert jobs and set(jobs.values()) == {"COMPLETED"}, jobs
    # 5 models + 1 star, the 10 barrier jobs as two group jobs of 5, and the star's ensembles
    assert len(jobs) == 9, jobs

    for meta_file in sorted((res / "models").glob("*.json")):
        meta = yaml.safe_load(meta_file.read_text())
        assert meta["slurm_job_id"] in jobs, meta_file.name
        assert meta["device"] == "cpu"  # SLURM's fake GPUs are /dev/null & co: the job fell back to the CPU
    train_log = (res / "logs" / "train" / "anchor-0.log").read_text()
    assert re.search(r"CUDA_VISIBLE_DEVICES=\d but no usable CUDA device: falling back to the CPU", train_log)

    barrier_jobs = set()
    for log in (res / "logs" / "barrier").rglob("*.log"):
        barrier_jobs.add(re.search(r"SLURM job (\d+)", log.read_text())[1])
    assert len(barrier_jobs) == 2 and barrier_jobs <= set(jobs)
    # the light rules ran locally
    assert "SLURM job none" in (res / "logs" / "aggregate.log").read_text() or \
        "SLURM job" not in (res / "logs" / "aggregate.log").read_text()


def test_results_equal_a_local_run(slurm_run, tiny_reference):
    workdir, _ = slurm_run
    for name in ("barriers.csv", "curves.csv", "summary.csv"):
        assert digest(workdir / "results" / "tiny" / name) == digest(tiny_reference / "results" / "tiny" / name), name


def test_second_run_submits_nothing(slurm_run):
    workdir, _ = slurm_run
    before = finished_jobs(workdir)
    proc = run_snakemake(workdir, *TEST_OVERRIDES, *TINY)
    assert "Nothing to be done" in proc.stdout + proc.stderr
    assert finished_jobs(workdir) == before


def test_star_edit_resubmits_only_star_and_barriers(slurm_run, tmp_path):
    workdir, _ = slurm_run
    cfg = yaml.safe_load((workdir / "config" / "tiny.yaml").read_text())
    cfg["experiments"]["tiny"].setdefault("star", {})["train"] = {"lr": 0.05}
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(cfg))
    plan = planned_jobs(workdir, "--profile", "profiles/slurm", "--configfile", str(edited))
    # the config record and the sweep table follow the config; the star's ensembles follow the star
    assert plan == {"train_star": 1, "barrier": 4, "ensemble": 1, "aggregate": 1, "figures": 1, "ensembles": 1,
                    "sweep": 1, "experiment_config": 1, "all": 1}
    before = finished_jobs(workdir)
    run_snakemake(workdir, *TEST_OVERRIDES, "--configfile", str(edited))
    new = {k: v for k, v in finished_jobs(workdir).items() if k not in before}
    # the star, then one barrier group and the ensembles job
    assert len(new) == 3 and set(new.values()) == {"COMPLETED"}, new


def test_failing_job_is_reported_and_leaves_no_output(slurm_run):
    workdir, _ = slurm_run
    res = workdir / "results" / "tiny"
    victim = res / "models" / "heldout-100.pt"
    good = victim.read_bytes()
    target = res / "pairs" / "anchor_heldout" / "anchor-0__heldout-100.barriers.csv"
    other = res / "pairs" / "anchor_heldout" / "anchor-1__heldout-100.barriers.csv"
    other_digest = digest(other)
    victim.chmod(0o644)
    victim.write_bytes(good[: len(good) // 3])  # a truncated checkpoint reaches the barrier job
    try:
        proc = run_snakemake(workdir, *TEST_OVERRIDES, *TINY, "--forcerun", str(target.relative_to(workdir)),
                             "--retries", "0", str(target.relative_to(workdir)), check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0
        logs = re.findall(r"\S*\.snakemake/slurm_logs/\S+\.log", out)
        assert logs, out[-3000:]
        assert "truncated or corrupt" in Path(logs[0]).read_text()
        assert not target.exists()
        assert not target.with_name(target.name.replace("barriers", "curve")).exists()
        assert digest(other) == other_digest  # earlier results untouched
    finally:
        victim.write_bytes(good)


REQUEUE_CONFIG = {
    "experiments": {
        "rq": {
            "data": {"val_size": 1000, "train_subset": 20000, "test_subset": 2000},
            "model": {"name": "mlp", "depth": 2, "width": 256},
            # 10 epochs of ~0.3 s: a window of seconds between the first saved state and the job's end
            "train": {"epochs": 10, "checkpoint_every": 1},
            "anchors": {"count": 1, "seed_start": 0},
            "heldout": {"count": 1, "seed_start": 100},
            "star": {"n_anchors": [1], "seed_start": 200},
        }
    }
}


def test_requeued_job_resumes_from_its_training_state(cluster, tmp_path_factory):
    """`--slurm-requeue` + `scontrol requeue` mid-training: the job restarts and resumes from its saved state,
    ending bit-identical to an uninterrupted local run."""
    workdir = copy_workflow(tmp_path_factory.mktemp("requeue"))
    (workdir / "rq.yaml").write_text(yaml.safe_dump(REQUEUE_CONFIG))
    target = "results/rq/models/anchor-0.pt"
    state = workdir / "results" / "rq" / "state" / "anchor-0.pt"
    cmd = [str(Path(os.sys.executable).with_name("snakemake")), "--directory", str(workdir), *TEST_OVERRIDES,
           "--slurm-requeue", "--configfile", "rq.yaml", "--jobs", "1", target]
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not state.exists():
            assert proc.poll() is None, proc.stdout.read()[-3000:]
            assert time.monotonic() < deadline, "no training state was saved"
            time.sleep(0.2)
        running = subprocess.run(["squeue", "-h", "-t", "R", "-o", "%i"], capture_output=True, text=True,
                                 check=True).stdout.split()
        assert len(running) == 1, running
        subprocess.run(["scontrol", "requeue", running[0]], check=True)
        # SLURM holds a requeued job back for about two minutes; let it start again at once
        for _ in range(100):
            state_now = subprocess.run(["squeue", "-h", "-j", running[0], "-o", "%T"], capture_output=True,
                                       text=True, check=False).stdout.strip()
            if state_now == "PENDING":
                subprocess.run(["scontrol", "update", f"JobId={running[0]}", "StartTime=now"], check=True)
                break
            time.sleep(0.1)
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
    assert proc.returncode == 0, out[-3000:]
    log = (workdir / "results" / "rq" / "logs" / "train" / "anchor-0.log").read_text()
    assert re.search(r"anchor-0: resumed from \S+ at epoch [1-9]/10", log), log[-2000:]
    assert yaml.safe_load((workdir / "results" / "rq" / "models" / "anchor-0.json").read_text())["slurm_job_id"] \
        == running[0]

    local = copy_workflow(tmp_path_factory.mktemp("requeue-local"))
    (local / "rq.yaml").write_text(yaml.safe_dump(REQUEUE_CONFIG))
    run_snakemake(local, "--configfile", "rq.yaml", "--cores", "1", target)
    assert digest(workdir / target) == digest(local / target)
