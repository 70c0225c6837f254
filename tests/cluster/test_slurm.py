"""The workflow through profiles/slurm on a real single-node SLURM cluster (scripts/slurm-cluster.sh).

Test-only settings are layered on top of the profile on the command line (TEST_OVERRIDES, and the CPU fallback:
the test node's GPUs are fake); everything else is the profile as users get it. One tiny run is shared: it is
killed while its first jobs run, refused at once, then finished by a run that waits for the killed run's jobs.
"""

import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from conftest import ROOT, SNAKEMAKE, copy_workflow, digest, planned_jobs, run_snakemake

from starlight.slurm.pacing import submission_gaps
from starlight.slurm.preflight import PreflightError, check_partitions, over_limits
from starlight.slurm.queries import key_values
from starlight.slurm.report import explain_exit, rule_log_note, what_happened

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

CLUSTER = ROOT / "scripts" / "slurm-cluster.sh"
JOBCOMP = Path("/var/log/slurm/jobcomp.log")
# Layered on the profile (whose status checks, every 10 s, are the shipped ones): the tiny experiment's 5 models
# in two SLURM jobs of 3 and 2 and its 4 barrier jobs (10 pairs) in two of 2, side by side on the test node's
# 2 CPUs; every SLURM log kept, to count what ran.
TEST_OVERRIDES = ("--profile", "profiles/slurm", "--group-components", "barriers=2", "models=3", "stars=1",
                  "--slurm-keep-successful-logs")
TINY = ("--configfile", "config/tiny.yaml")
FALLBACK = "allow_cpu_fallback=True"  # the test node's GPUs are /dev/null & co
RUN = (*TEST_OVERRIDES, *TINY, "--config", FALLBACK)
GPU_RULES = ("train", "train_star", "train_control", "merge_anchors", "barrier", "ensemble")


@pytest.fixture(scope="module")
def cluster():
    if os.geteuid() != 0:
        pytest.skip("starting the local SLURM cluster needs root")
    subprocess.run([str(CLUSTER), "start"], check=True, timeout=600)
    try:
        yield
    finally:  # also when a test failed: leave no daemon behind
        subprocess.run([str(CLUSTER), "stop"], check=True, timeout=300)


def finished_records(workdir: Path) -> dict[str, dict[str, str]]:
    """SLURM job id -> its record in the job-completion log, of the jobs run from `workdir`."""
    records = [key_values(line) for line in (JOBCOMP.read_text().splitlines() if JOBCOMP.exists() else [])]
    return {rec["JobId"]: rec for rec in records if rec.get("WorkDir") == str(workdir)}


def finished_jobs(workdir: Path) -> dict[str, tuple[str, str]]:
    """SLURM job id -> (name, final state) of the jobs run from `workdir` (from the job-completion log)."""
    return {job_id: (rec["Name"], rec["JobState"]) for job_id, rec in finished_records(workdir).items()}


def active_jobs(workdir: Path) -> dict[str, str]:
    """SLURM job id -> state of the queued and running jobs submitted from `workdir`."""
    out = subprocess.run(["squeue", "--noheader", "--format=%i|%T|%Z"], capture_output=True, text=True,
                         check=True).stdout
    return {i: state for i, state, wd in (line.split("|") for line in out.splitlines()) if wd == str(workdir)}


def running_jobs(workdir: Path) -> list[str]:
    return [job_id for job_id, state in active_jobs(workdir).items() if state == "RUNNING"]


def executions(workdir: Path) -> Counter:
    """(rule, wildcards) -> how often a SLURM job ran it, from the kept SLURM logs (the snakemake inside a job
    prints `localrule RULE:` and the job's `wildcards:` for each rule it runs)."""
    ran: Counter = Counter()
    for log in (workdir / ".snakemake" / "slurm_logs").rglob("*.log"):
        rule = None
        for line in log.read_text().splitlines():
            if m := re.match(r"\s*localrule (\w+):$", line):
                rule = m[1]
            elif rule and (m := re.match(r"\s*wildcards: (.*)$", line)):
                ran[rule, m[1]] += 1
                rule = None
    return ran


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return value


def data_from(source: Path, dest: Path) -> Path:
    """A fresh workflow copy that shares `source`'s prepared dataset (no data rules to run)."""
    copy_workflow(dest)
    (dest / "resources").mkdir()
    os.link(source / "resources" / "fashion_mnist.pt", dest / "resources" / "fashion_mnist.pt")
    return dest


# ---- the README's commands, as dry runs (no cluster needed) ----

def documented_slurm_commands() -> list[list[str]]:
    """The `snakemake --profile profiles/slurm ...` commands of docs/slurm.md's section on running, as argument
    lists."""
    text = (ROOT / "docs" / "slurm.md").read_text()
    section = text[text.index("## Running on a SLURM cluster"):text.index("### When something goes wrong")]
    section = section.replace("\\\n", " ")
    return [shlex.split(line.strip(), comments=True)[1:] for line in section.splitlines()
            if re.match(r"\s*(\.venv/bin/)?snakemake --profile profiles/slurm", line)]


def planned_resources(out: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, resources) of each job a dry run lists."""
    jobs, rule = [], None
    for line in out.splitlines():
        if m := re.match(r"\s*(?:local)?rule (\w+):$", line):
            rule = m[1]
        elif rule and (m := re.match(r"\s*resources: (.*)$", line)):
            jobs.append((rule, dict(kv.split("=", 1) for kv in m[1].split(", "))))
            rule = None
    return jobs


def test_documented_overrides_keep_the_gpu_and_the_memory(tmp_path):
    commands = documented_slurm_commands()
    assert len(commands) == 4, commands  # the plain run and the three overrides
    copy_workflow(tmp_path)
    for args in commands:
        proc = run_snakemake(tmp_path, *args, "-n")
        jobs = planned_resources(proc.stdout)
        gpu_jobs = [(rule, res) for rule, res in jobs if rule in GPU_RULES]
        # one barrier job per model1: 8 anchors, 4 stars, their 4 controls and the 4 merged models
        assert Counter(rule for rule, _ in gpu_jobs) == {"train": 11, "train_star": 4, "train_control": 4,
                                                         "merge_anchors": 4, "barrier": 20, "ensemble": 4}, args
        memory = 32000 if "train:mem_mb=32000" in args else 8000
        for rule, res in gpu_jobs:
            assert res["gpu"] == "1", (args, rule, res)
            assert res["mem_mb"] == str(memory if rule in ("train", "train_star") else 8000), (args, rule, res)
        if "train:runtime=240" in args:
            assert {res["runtime"] for rule, res in gpu_jobs if rule == "train"} == {"240"}
            assert {res["slurm_partition"] for rule, res in gpu_jobs if rule == "barrier"} == {"gpu-short"}
        if "slurm_account=mylab" in args:
            assert {res["slurm_partition"] for _, res in gpu_jobs} == {"a100"}


def test_a_request_above_a_global_limit_stops_the_run(tmp_path):
    copy_workflow(tmp_path)
    proc = run_snakemake(tmp_path, "--profile", "profiles/slurm", "-n", "--set-resources", "train:gpu=2", check=False)
    assert proc.returncode != 0
    assert "rule train asks for gpu=2, but the global `resources: gpu=1` would silently give its jobs gpu=1" \
        in proc.stderr + proc.stdout
    # memory has no global limit: a large request reaches the job as it is
    proc = run_snakemake(tmp_path, "--profile", "profiles/slurm", "-n", "--set-resources", "train:mem_mb=500000")
    assert {res["mem_mb"] for rule, res in planned_resources(proc.stdout) if rule == "train"} == {"500000"}


@pytest.mark.parametrize("line,message", [
    ("slurm-status-interval: 5", "unrecognized arguments: --slurm-status-interval=5"),
    ("slurm-init-seconds-before-status-checks: -5", "init-seconds-before-status-checks must be a positive integer"),
], ids=["unknown-key", "negative-interval"])
def test_a_bad_profile_setting_stops_the_run_naming_it(tmp_path, line, message):
    """Checked by Snakemake and the plugin when they read the profile: before the workflow, before any submission."""
    copy_workflow(tmp_path)
    profile = tmp_path / "profiles" / "slurm" / "config.yaml"
    profile.write_text(profile.read_text() + line + "\n")
    proc = run_snakemake(tmp_path, "--profile", "profiles/slurm", "--configfile", "config/tiny.yaml", check=False)
    assert proc.returncode != 0
    assert message in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists() and not (tmp_path / ".snakemake" / "slurm_logs").exists()


def test_preflight_checks_name_the_rule_and_the_setting():
    assert over_limits({"train": {"gpu": 3, "mem_mb": 9000}, "barrier": {"gpu": 1}}, {"gpu": 1, "mem_mb": None}) \
        == ["rule train asks for gpu=3, but the global `resources: gpu=1` would silently give its jobs gpu=1"]
    available = {"gpu": {"gpu:2"}, "cpu": {"(null)"}}
    check_partitions([("train", {"slurm_partition": "gpu", "gpu": 1})], available)
    with pytest.raises(PreflightError, match=r"slurm_partition=cpu has no GPUs .* rules train ask for one"):
        check_partitions([("train", {"slurm_partition": "cpu", "gpu": 1})], available)
    with pytest.raises(PreflightError, match=r"slurm_partition=nope \(rules barrier, train\) is not a partition"):
        check_partitions([("train", {"slurm_partition": "nope"}), ("barrier", {"slurm_partition": "nope"})],
                         available)


def test_exit_codes_reasons_and_stale_rule_logs_are_explained(tmp_path):
    assert explain_exit("JobLaunchFailure", "0:9") == (
        "exit code 0:9: killed by SIGKILL (SLURM sends it to a step over its memory, or at the end of a time "
        "limit's grace period); reason JobLaunchFailure: SLURM's word for a job whose step ended before it reported "
        "back (it names no cause; the lines below do)")
    assert explain_exit("NonZeroExitCode", "1:0") == "exit code 1:0: the job's script exited with status 1"
    assert explain_exit("None", "0:0") == ""
    old, new = tmp_path / "old.log", tmp_path / "new.log"
    old.write_text("an earlier run's log")
    os.utime(old, (1000.0, 1000.0))
    new.write_text("this run's log")
    assert rule_log_note(str(new), since=2000.0) == ""
    assert rule_log_note(str(old), since=2000.0) == " (from an earlier run: this job did not write it)"
    assert rule_log_note(str(tmp_path / "none.log"), since=2000.0).startswith(" (not written")


def test_slurm_log_lines_are_explained():
    # lines SLURM writes into a job's log when it kills it (taken from this cluster's jobs)
    assert "out of memory" in what_happened("FAILED", "slurmstepd-vm: error: Exceeded job memory limit")
    assert "out of memory" in what_happened(
        "FAILED", "slurmstepd-vm: error: Detected 1 oom-kill event(s) in StepId=12.0.")
    assert "time limit" in what_happened(
        "TIMEOUT", "slurmstepd-vm: error: *** JOB 7 ON vm CANCELLED AT 2026-01-01T12:00:00 DUE TO TIME LIMIT ***")
    assert what_happened("CANCELLED", "slurmstepd-vm: error: *** JOB 9 ON vm CANCELLED AT 2026-01-01T12:00:00 ***") \
        == "it was cancelled"
    assert what_happened("NODE_FAIL", "") == "its node failed"


# ---- the shared tiny run: killed, refused, waited for ----

@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("slurm"))
    first = subprocess.Popen([SNAKEMAKE, *RUN], cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        running = wait_until(lambda: running_jobs(workdir), 300, "a running SLURM job")
        default_view = subprocess.run(["squeue"], capture_output=True, text=True, check=True).stdout
        names = subprocess.run(["squeue", "--noheader", "--format=%j"], capture_output=True, text=True,
                               check=True).stdout.split()
        submitted = set(active_jobs(workdir))
        first.send_signal(signal.SIGKILL)
        first.wait()
        # Hold the killed run's running jobs (SUSPENDED, still theirs) until the waiting rerun has started, however
        # slowly this machine runs the reruns: both must find them.
        suspended = running_jobs(workdir)
        for job_id in suspended:
            subprocess.run(["scontrol", "suspend", job_id], check=True)
        refused = run_snakemake(workdir, *RUN, check=False)
        still_active = set(active_jobs(workdir))
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    resume = threading.Timer(20, lambda: [subprocess.run(["scontrol", "resume", j], check=False) for j in suspended])
    resume.start()
    try:
        finished = run_snakemake(workdir, *TEST_OVERRIDES, *TINY, "--config", FALLBACK, "wait_for_slurm_jobs=True")
    finally:
        resume.join()
    return SimpleNamespace(workdir=workdir, running=running, default_view=default_view, names=names,
                           submitted=submitted, refused=refused, still_active=still_active, finished=finished)


def test_rerun_after_a_killed_run_refuses_then_waits_and_runs_nothing_twice(slurm_run):
    refused = slurm_run.refused.stdout + slurm_run.refused.stderr
    assert slurm_run.refused.returncode != 0
    assert "SLURM still runs" in refused and "job(s) of an earlier run" in refused
    ids = re.search(r"to end them:\s+scancel ([\d ]+)\n", refused)[1].split()
    # exactly the killed run's jobs that were still queued or running
    assert slurm_run.still_active <= set(ids) <= slurm_run.submitted, (ids, slurm_run.still_active)
    assert slurm_run.still_active, "the killed run's jobs were held: the refusal must name them"
    # a refusal, not a crash: the message as it is, no traceback or Snakemake's WorkflowError frame
    assert "WorkflowError" not in refused and "Traceback" not in refused and "common.smk" not in refused, refused
    for job_id in ids:
        row = rf"^\s+{job_id}\s+(RUNNING|PENDING|COMPLETING|SUSPENDED)\s+train:tiny,(anchor|heldout),\d+\+[12]$"
        assert re.search(row, refused, re.MULTILINE), refused
    waited = slurm_run.finished.stdout + slurm_run.finished.stderr
    assert "waiting for them to end" in waited

    ran = executions(slurm_run.workdir)
    assert Counter(rule for rule, _ in ran) == {"train": 5, "train_star": 1, "barrier": 4, "ensemble": 1}, ran
    assert set(ran.values()) == {1}, ran  # no job ran twice
    assert {state for _, state in finished_jobs(slurm_run.workdir).values()} == {"COMPLETED"}
    # the models the killed run's jobs trained got their metadata: a training edit reruns them
    cfg = yaml.safe_load((slurm_run.workdir / "config" / "tiny.yaml").read_text())
    cfg["experiments"]["tiny"]["train"]["lr"] = 0.07
    (slurm_run.workdir / "lr.yaml").write_text(yaml.safe_dump(cfg))
    assert planned_jobs(slurm_run.workdir, "--configfile", "lr.yaml")["train"] == 5


def test_gpu_rules_ran_as_slurm_jobs(slurm_run):
    workdir = slurm_run.workdir
    res = workdir / "results" / "tiny"
    jobs = finished_jobs(workdir)
    # 5 models in jobs of 3 and 2, the star, the 4 barrier jobs (10 pairs) in two of 2, the star's ensembles
    assert len(jobs) == 6, jobs
    for meta_file in sorted((res / "models").glob("*.json")):
        meta = yaml.safe_load(meta_file.read_text())
        assert meta["slurm_job_id"] in jobs, meta_file.name
        assert meta["device"] == "cpu"  # SLURM's fake GPUs: the job fell back to the CPU, as allowed
    train_log = (res / "logs" / "train" / "anchor-0.log").read_text()
    assert re.search(r"CUDA_VISIBLE_DEVICES=\d but no usable CUDA device: falling back to the CPU", train_log)

    logs = [*(res / "logs" / "train").glob("*.log"), *(res / "logs" / "train_star").glob("*.log"),
            *(res / "logs" / "barrier").rglob("*.log"), *(res / "logs" / "ensemble").glob("*.log")]
    assert len(logs) == 11
    for log in logs:
        first = log.read_text().splitlines()[0]
        m = re.search(r"start-up: ([\d.]+) s from SLURM job (\d+) starting to the first line of work of rule (\w+)",
                      first)
        assert m and m[2] in jobs and m[3] in GPU_RULES, (log, first)
        assert 0 < float(m[1]) < 600
    barrier_logs = (res / "logs" / "barrier").rglob("*.log")
    barrier_jobs = {re.search(r"SLURM job (\d+)", log.read_text())[1] for log in barrier_logs}
    assert len(barrier_jobs) == 2 and barrier_jobs <= set(jobs)
    assert "SLURM job" not in (res / "logs" / "aggregate.log").read_text()  # the light rules ran locally


def test_jobs_are_named_by_rule_and_wildcards(slurm_run):
    names = sorted(name for name, _ in finished_jobs(slurm_run.workdir).values())
    patterns = [r"barrier:tiny,[\w-]+\+1", r"barrier:tiny,[\w-]+\+1",
                r"ensemble:tiny,star-k\d+-0", r"train:tiny,(anchor|heldout),\d+\+[12]",
                r"train:tiny,(anchor|heldout),\d+\+[12]", r"train_star:tiny,star-k\d+-0"]
    assert len(names) == len(patterns), names
    assert all(re.fullmatch(p, n) for p, n in zip(patterns, names)), names
    # squeue's default output (NAME: 8 characters) shows the rule; its %j shows the whole name
    assert re.search(r"^\s*\d+\s+gpu\s+train:ti\s", slurm_run.default_view, re.MULTILINE), slurm_run.default_view
    assert any(re.fullmatch(r"train:tiny,(anchor|heldout),\d+\+[12]", n) for n in slurm_run.names)


def test_results_equal_a_local_run(slurm_run, tiny_reference):
    for name in ("barriers.csv", "curves.csv", "summary.csv"):
        assert digest(slurm_run.workdir / "results" / "tiny" / name) \
            == digest(tiny_reference / "results" / "tiny" / name), name


def test_second_run_submits_nothing(slurm_run):
    before = finished_jobs(slurm_run.workdir)
    proc = run_snakemake(slurm_run.workdir, *RUN)
    assert "Nothing to be done" in proc.stdout + proc.stderr
    assert finished_jobs(slurm_run.workdir) == before
    # allow_cpu_fallback is no param: without it (the default) nothing would rerun either
    assert planned_jobs(slurm_run.workdir, *TEST_OVERRIDES, *TINY) == {}


def test_the_report_after_a_slurm_run_prints_no_warning(slurm_run, tmp_path):
    """The profile's fixed disk_mb: Snakemake's default reads input sizes, which a --report evaluates inside its
    own event loop, printing `RuntimeWarning: coroutine ... was never awaited` once per job."""
    proc = run_snakemake(slurm_run.workdir, *TEST_OVERRIDES, *TINY, "--report", str(tmp_path / "report.html"))
    out = proc.stdout + proc.stderr
    assert "Report created" in out and (tmp_path / "report.html").stat().st_size > 10_000
    assert "Warning" not in out, out


def test_the_slurm_logs_of_the_last_runs_are_kept(slurm_run):
    """Every run that submits records its start beside the SLURM logs (starlight/slurm/kept_logs.py): the killed
    run and the one that waited for its jobs."""
    logs = slurm_run.workdir / ".snakemake" / "slurm_logs"
    assert len((logs / "runs.txt").read_text().split()) >= 2
    assert any(logs.rglob("*.log"))  # --slurm-keep-successful-logs: this run's are all there


def test_star_edit_resubmits_only_star_and_barriers(slurm_run, tmp_path):
    workdir = slurm_run.workdir
    cfg = yaml.safe_load((workdir / "config" / "tiny.yaml").read_text())
    cfg["experiments"]["tiny"].setdefault("star", {})["train"] = {"lr": 0.05}
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(cfg))
    plan = planned_jobs(workdir, "--profile", "profiles/slurm", "--configfile", str(edited))
    # the config record and the sweep table follow the config; the star's ensembles follow the star
    assert plan == {"train_star": 1, "barrier": 1, "ensemble": 1, "aggregate": 1, "figures": 1, "ensembles": 1,
                    "costs": 1, "sweep": 1, "experiment_config": 1, "all": 1}
    before = finished_jobs(workdir)
    run_snakemake(workdir, *TEST_OVERRIDES, "--configfile", str(edited), "--config", FALLBACK)
    new = {k: v for k, v in finished_records(workdir).items() if k not in before}
    # the star, then its barrier job (one group) and the star's ensembles
    assert len(new) == 3 and {rec["JobState"] for rec in new.values()} == {"COMPLETED"}, new
    # submitted soon after the star ended: the profile's steady 10 s status checks (starlight/slurm/pacing.py)
    gaps = submission_gaps(list(new.values()))
    assert len(gaps) == 2 and max(gap for _, gap in gaps) < 15, gaps


def test_a_missing_partition_stops_the_run_before_any_submission(slurm_run, tmp_path):
    workdir = data_from(slurm_run.workdir, tmp_path)
    proc = run_snakemake(workdir, *RUN, "--set-resources", "train:slurm_partition=nope", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "slurm_partition=nope (rules train) is not a partition of this cluster" in out
    assert "Partitions here: gpu (sinfo)" in out
    assert "WorkflowError" not in out and "Traceback" not in out and "slurm.smk" not in out, out
    assert "sbatch" not in out and not finished_jobs(workdir) and not active_jobs(workdir)


# ---- failed, cancelled and requeued jobs, side by side ----

def experiment(**overrides) -> dict:
    """One anchor (anchor-0) of 10 epochs of ~0.3 s: seconds between its first saved state and its end."""
    exp = {"data": {"val_size": 1000, "train_subset": 20000, "test_subset": 2000},
           "model": {"name": "mlp", "depth": 2, "width": 256},
           "train": {"epochs": 10, "checkpoint_every": 1},
           "anchors": {"count": 1, "seed_start": 0}, "heldout": {"count": 1, "seed_start": 100},
           "star": {"n_anchors": [1], "seed_start": 200}}
    for key, value in overrides.items():
        exp[key] = exp[key] | value
    return {"experiments": {"x": exp}}


TARGET = "results/x/models/anchor-0.pt"
STAR = "results/x/models/star-k1-0.pt"
# Each run trains anchor-0 and gets one thing wrong: no GPU and no CPU fallback; a time limit of 1 minute for a
# training of several; 1.5 GB of memory for a 2 x 12,000 MLP that needs several; a scancel while it runs; a
# `scontrol requeue` once it has saved its first training state (run with --slurm-requeue, it must resume).
# `limit` trains anchor-0 and then, in the same SLURM job (one group), a star that outlasts the job's time limit:
# the anchor's training ends before SLURM ends the job.
SCENARIOS = {
    "gpu": (experiment(), ("--retries", "0")),
    "timeout": (experiment(train={"epochs": 2000, "checkpoint_every": 0}),
                ("--config", FALLBACK, "--retries", "0", "--set-resources", "train:runtime=1")),
    "memory": (experiment(model={"width": 12000}),
               ("--config", FALLBACK, "--retries", "0", "--set-resources", "train:mem_mb=1500")),
    "cancelled": (experiment(), ("--config", FALLBACK, "--retries", "0")),
    "requeue": (experiment(), ("--config", FALLBACK, "--slurm-requeue")),
    "limit": (experiment(star={"train": {"epochs": 3000}}),
              ("--config", FALLBACK, "--retries", "0", "--groups", "train=limit", "train_star=limit",
               "--group-components", "limit=2", "--set-resources", "train:runtime=1", "train_star:runtime=1"), STAR),
}


def requeue_now(job_id: str) -> None:
    """`scontrol requeue`, then let the job start again at once (SLURM holds a requeued job back a while)."""
    subprocess.run(["scontrol", "requeue", job_id], check=True)
    wait_until(lambda: subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True,
                                      check=False).stdout.strip() == "PENDING", 30, "the requeued job to pend")
    subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=True)


@pytest.fixture(scope="module")
def scenarios(slurm_run, tmp_path_factory):
    """Each of SCENARIOS run through SLURM, all at once, and a local run of anchor-0: workdir and output of each."""
    runs = {}
    for name, (config, args, *target) in {**SCENARIOS, "local": (experiment(), ())}.items():
        workdir = data_from(slurm_run.workdir, tmp_path_factory.mktemp(name))
        (workdir / "x.yaml").write_text(yaml.safe_dump(config))
        cmd = [SNAKEMAKE, *(target or [TARGET]), "--configfile", "x.yaml", *args]
        cmd += ["--cores", "1"] if name == "local" else TEST_OVERRIDES
        runs[name] = (workdir, subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                text=True, start_new_session=True))
    state = runs["requeue"][0] / "results" / "x" / "state" / "anchor-0.pt"
    cancelled, requeued = [], []
    try:
        deadline = time.monotonic() + 400
        while not (cancelled and requeued):  # the two happen in either order
            assert time.monotonic() < deadline, "the jobs to cancel and to requeue did not both run"
            if not cancelled and (running := running_jobs(runs["cancelled"][0])):
                subprocess.run(["scancel", *running], check=True)
                cancelled = running
            if not requeued and state.exists() and len(running := running_jobs(runs["requeue"][0])) == 1:
                requeue_now(running[0])
                requeued = running
            time.sleep(0.2)
        out = {name: proc.communicate(timeout=600)[0] for name, (_, proc) in runs.items()}
    finally:
        for _, proc in runs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    return {name: SimpleNamespace(workdir=workdir, out=out[name], returncode=proc.returncode,
                                  requeued=requeued[0]) for name, (workdir, proc) in runs.items()}


def report_of(run: SimpleNamespace) -> str:
    assert run.returncode != 0
    assert "SLURM job(s) of this run ended badly" in run.out, run.out[-3000:]
    report = run.out[run.out.index("SLURM job(s) of this run ended badly"):]
    assert "rule train, wildcards exp=x, role=anchor, seed=0" in report, report
    assert "rule log:  results/x/logs/train/anchor-0.log" in report, report
    assert re.search(r"SLURM log: \S+/\.snakemake/slurm_logs/group_models_train/\d+\.log", report), report
    assert not (run.workdir / TARGET).exists()
    return report


def test_gpu_job_without_a_gpu_fails_by_default(scenarios):
    report = report_of(scenarios["gpu"])
    assert re.search(r"\(train:x,anchor,0\): FAILED, reason NonZeroExitCode", report), report
    assert re.search(r"what happened: it exited with an error: MissingGPU: rule train: SLURM job \d+ on node \S+ "
                     r"has no usable CUDA GPU \(resource gpu missing", report), report
    assert re.search(r"\| .* CRITICAL MissingGPU: .*allow_cpu_fallback: true", report), report


def test_job_over_its_time_limit_is_explained(scenarios):
    report = report_of(scenarios["timeout"])
    assert re.search(r"\(train:x,anchor,0\): TIMEOUT, reason TimeLimit", report), report
    assert "what happened: it ran past its time limit (resource runtime, in minutes)" in report
    assert re.search(r"\| .*CANCELLED AT \S+ DUE TO TIME LIMIT", report), report


def test_job_over_its_memory_is_explained(scenarios):
    report = report_of(scenarios["memory"])
    # without cgroups slurmstepd kills the step and the job ends FAILED; with them SLURM says OUT_OF_MEMORY
    assert re.search(r"\(train:x,anchor,0\): (FAILED|OUT_OF_MEMORY)", report), report
    assert "what happened: it ran out of memory: it used more than it asked for (resource mem_mb)" in report
    assert re.search(r"\| .*(Exceeded job memory limit|oom-kill)", report), report


def test_cancelled_job_is_explained(scenarios):
    report = report_of(scenarios["cancelled"])
    assert re.search(r"\(train:x,anchor,0\): CANCELLED", report), report
    assert "what happened: it was cancelled" in report
    assert re.search(r"\| .*\*\*\* JOB \d+ ON \S+ CANCELLED AT", report), report


def test_requeued_job_resumes_from_its_training_state(scenarios):
    """`--slurm-requeue` + `scontrol requeue` mid-training: the job restarts and resumes from its saved state,
    ending bit-identical to an uninterrupted local run."""
    run = scenarios["requeue"]
    assert run.returncode == 0, run.out[-3000:]
    log = (run.workdir / "results" / "x" / "logs" / "train" / "anchor-0.log").read_text()
    assert re.search(r"anchor-0: resumed from \S+ at epoch [1-9]/10", log), log[-2000:]
    assert yaml.safe_load((run.workdir / "results" / "x" / "models" / "anchor-0.json").read_text())["slurm_job_id"] \
        == run.requeued
    assert scenarios["local"].returncode == 0, scenarios["local"].out[-3000:]
    assert digest(run.workdir / TARGET) == digest(scenarios["local"].workdir / TARGET)


def test_a_model_finished_before_its_job_hit_the_time_limit_is_restored_not_trained_again(scenarios):
    """The time-limit case: anchor-0 finished, then SLURM ended its job (the star after it in the same job ran past
    the limit). Snakemake deletes the outputs of every job of the failed SLURM job, the finished anchor's too; the
    rerun restores the anchor from the archive instead of training it again, byte for byte."""
    run = scenarios["limit"]
    assert run.returncode != 0
    assert re.search(r"\(train_star:x,star-k1-0\)|star-k1-0", run.out) and "TIMEOUT" in run.out, run.out[-3000:]
    res = run.workdir / "results" / "x"
    assert "anchor-0 epoch 10/10" in (res / "logs" / "train" / "anchor-0.log").read_text()  # it did finish
    assert not (run.workdir / TARGET).exists(), "the finished anchor's outputs were kept: nothing to recover"
    archived = sorted((res / "archive" / "anchor-0").glob("*.pt"))
    assert len(archived) == 1
    rerun = run_snakemake(run.workdir, TARGET, "--configfile", "x.yaml", "--cores", "1")
    log = (res / "logs" / "train" / "anchor-0.log").read_text()
    assert "anchor-0: its training had finished under the same config, code and inputs; restored from" in log, \
        rerun.stdout[-3000:]
    assert " epoch 1/10 " not in log
    assert digest(run.workdir / TARGET) == digest(archived[0]) == digest(scenarios["local"].workdir / TARGET)
