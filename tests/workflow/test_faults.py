"""Faults, for real: training processes and whole snakemake runs are SIGKILLed mid-training and restarted, and a
diverging model is run through the snakemake command line. No mocks: real processes, real signals, real data.

- a killed anchor / star job resumes from its saved training state and ends bit-identical to an uninterrupted run;
- a killed `snakemake` run, started again with the same command (the workflow removes the lock the SIGKILL left
  behind), keeps the finished models, resumes the model that was mid-training and ends with the same results as a
  run that was never interrupted;
- a diverging model fails the run with a message naming the model, the epoch and the step, and leaves no output.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from conftest import SNAKEMAKE, copy_workflow

pytestmark = pytest.mark.slow

WAIT_S = 240  # upper bound on any wait for a process to reach a point or to finish
POLL_S = 0.02

# Runs one or more starlight.jobs functions ("module.function") in a fresh interpreter, logging like the workflow scripts do.
HELPER = """\
import importlib, json, sys
from starlight.pipeline.runtime import setup_logging

spec = json.loads(open(sys.argv[1]).read())
setup_logging(spec.get("log"))
for call in spec["calls"]:
    module, fn = call["fn"].rsplit(".", 1)
    getattr(importlib.import_module(f"starlight.jobs.{module}"), fn)(*call["args"])
"""

EPOCHS = 6
STAR = {"t_scheme": "uniform", "t_constant": 0.5, "mu_star": 0.0, "realign_every_epoch": True, "n_anchors": 2,
        "seed": 7}


def experiment(batchnorm: bool = False, train_subset: int = 20000, epochs: int = EPOCHS, lr: float = 0.1) -> dict:
    """An experiment as the workflow's `train_params`/`star_params` hand it to the jobs (schema defaults filled in).

    20,000 images at width 64 take about 0.3-0.5 s an epoch on one thread: long enough to be killed mid-way."""
    return {
        "dataset": "fashion_mnist", "device": "cpu", "deterministic": False,
        "data": {"val_size": 1000, "split_seed": 0, "train_subset": train_subset, "test_subset": 1000},
        "model": {"name": "mlp", "depth": 1, "width": 64, "batchnorm": batchnorm},
        "train": {"epochs": epochs, "batch_size": 64, "lr": lr, "momentum": 0.9, "nesterov": True,
                  "weight_decay": 5e-4, "schedule": "cosine", "warmup_steps": 0, "checkpoint_every": 1},
        "alignment": {"method": "matching", "seed": 0},
        "bn": {"subset": 500, "seed": 0},
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_same_checkpoint(a: Path, b: Path) -> None:
    sa, sb = (torch.load(p, map_location="cpu", weights_only=True)["state_dict"] for p in (a, b))
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), f"{a.name}: tensor {k} differs from the uninterrupted run"
    assert sha256(a) == sha256(b), f"{a} and {b} hold equal tensors but differ in bytes"


def without_seconds(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]


def state_epoch(path: Path) -> int | None:
    """The epoch of a saved training state; None while there is none (it is replaced atomically, never torn)."""
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["epoch"])
    except FileNotFoundError:
        return None


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a process started with start_new_session=True, with everything it started."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=60)


class Job:
    """`starlight.jobs` calls run in a subprocess; stdout and stderr go to `<dir>/<name>.err`."""

    def __init__(self, tmp_path: Path, name: str, calls: list[tuple[str, list]]):
        helper = tmp_path / "helper.py"
        if not helper.exists():
            helper.write_text(HELPER)
        self.log = tmp_path / f"{name}.log"
        self.err = tmp_path / f"{name}.err"
        spec = tmp_path / f"{name}.json"
        spec.write_text(json.dumps({"log": str(self.log),
                                    "calls": [{"fn": fn, "args": args} for fn, args in calls]}, default=str))
        self._cmd = [sys.executable, str(helper), str(spec)]
        self.proc: subprocess.Popen | None = None

    def start(self) -> Job:
        with open(self.err, "w") as err:
            self.proc = subprocess.Popen(self._cmd, stdout=err, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait(self) -> None:
        try:
            rc = self.proc.wait(timeout=WAIT_S)
        finally:
            kill_group(self.proc)
        assert rc == 0, f"{self._cmd} failed ({rc}):\n{self.err.read_text()[-6000:]}"

    def run(self) -> Job:
        self.start().wait()
        return self

    def kill_after_state(self, state: Path, min_epoch: int, max_epoch: int) -> int:
        """Wait until `state` holds epoch >= min_epoch, SIGKILL the job; return the epoch the state was left at."""
        deadline = time.monotonic() + WAIT_S
        try:
            while (state_epoch(state) or 0) < min_epoch:
                assert self.proc.poll() is None, (
                    f"the job ended ({self.proc.returncode}) before saving epoch {min_epoch} of its training state:\n"
                    f"{self.err.read_text()[-6000:]}")
                assert time.monotonic() < deadline, f"no training state of epoch {min_epoch} after {WAIT_S}s"
                time.sleep(POLL_S)
            os.killpg(self.proc.pid, signal.SIGKILL)
        finally:
            kill_group(self.proc)
        assert self.proc.returncode == -signal.SIGKILL, "the job ended on its own before it could be killed"
        epoch = state_epoch(state)
        assert epoch is not None and min_epoch <= epoch <= max_epoch, epoch
        return epoch

    def stop(self) -> None:
        if self.proc is not None:
            kill_group(self.proc)


def check_resumed(job: Job, name: str, state: Path, killed_at: int, epochs: int) -> None:
    """The rerun said it resumed from `state` at the epoch it was killed after, and trained only the rest."""
    log = job.log.read_text()
    assert f"{name}: resumed from {state} at epoch {killed_at}/{epochs}" in log, log
    epoch_line = rf"^\S+ \S+ INFO {re.escape(name)} epoch (\d+)/{epochs} "
    trained = [int(e) for e in re.findall(epoch_line, log, re.MULTILINE)]
    assert trained == list(range(killed_at + 1, epochs + 1)), log
    assert not state.exists(), "the training state outlived the finished job"


def compare_runs(resumed: tuple[Path, Path], reference: tuple[Path, Path]) -> None:
    (ckpt, meta), (ref_ckpt, ref_meta) = resumed, reference
    assert_same_checkpoint(ckpt, ref_ckpt)
    got, want = json.loads(meta.read_text()), json.loads(ref_meta.read_text())
    assert len(got["history"]) == len(want["history"])
    assert without_seconds(got["history"]) == without_seconds(want["history"])  # the pre-kill epochs come back too
    assert got["final"] == want["final"]


# ------------------------------------------------------------------------------------------------------------------
# 1. + 2. jobs killed mid-training and resumed


def kill_and_resume(tmp_path: Path, fn: str, name: str, inputs: list, on_killed=None) -> tuple[Job, int]:
    """Run `jobs.<fn>(*inputs, ckpt, meta, state, 1)`, SIGKILL it after a saved epoch, rerun it, and compare the
    result with an uninterrupted run (no training state at all, alongside on the other core).

    `on_killed(state)` inspects the training state the kill left behind. Returns the rerun job and the epoch the
    kill left the state at."""
    run, ref = tmp_path / "run" / "models", tmp_path / "ref" / "models"
    ckpt, meta, state = run / f"{name}.pt", run / f"{name}.json", run.parent / "state" / f"{name}.pt"
    call = (fn, [*inputs, ckpt, meta, state, 1])
    reference = Job(tmp_path, "reference", [(fn, [*inputs, ref / f"{name}.pt", ref / f"{name}.json", None, 1])])
    reference.start()
    victim = Job(tmp_path, "killed", [call]).start()
    try:
        killed_at = victim.kill_after_state(state, min_epoch=2, max_epoch=EPOCHS - 1)
        assert not ckpt.exists() and not meta.exists(), "a killed job left an output behind"
        if on_killed is not None:
            on_killed(state)

        resumed = Job(tmp_path, "resumed", [call]).run()
        check_resumed(resumed, name, state, killed_at, EPOCHS)
        reference.wait()
    finally:
        victim.stop()
        reference.stop()
    compare_runs((ckpt, meta), (ref / f"{name}.pt", ref / f"{name}.json"))
    return resumed, killed_at


@pytest.mark.parametrize("batchnorm", [False, True], ids=["mlp", "mlp_bn"])
def test_killed_anchor_resumes_bit_identical(dataset_file, tmp_path, batchnorm):
    kill_and_resume(tmp_path, "train.train_job", "anchor-3", [dataset_file, experiment(batchnorm), "anchor", 3])


@pytest.fixture(scope="module", params=[False, True], ids=["mlp", "mlp_bn"])
def star_anchors(request, dataset_file, tmp_path_factory):
    """Two quickly trained anchors (2,000 images, 1 epoch) of the star test's architecture."""
    out = tmp_path_factory.mktemp("anchors")
    exp = experiment(request.param, train_subset=2000, epochs=1)
    calls = [("train.train_job", [dataset_file, exp, "anchor", s, out / f"anchor-{s}.pt", out / f"anchor-{s}.json", None, 1])
             for s in (0, 1)]
    Job(out, "anchors", calls).run()
    return request.param, [out / "anchor-0.pt", out / "anchor-1.pt"]


def test_killed_star_resumes_bit_identical(dataset_file, tmp_path, star_anchors):
    """realign_every_epoch: the resumed star must pick up the anchors as re-aligned before the kill."""
    batchnorm, anchors = star_anchors

    def holds_realigned_anchors(state: Path) -> None:
        saved = torch.load(state, map_location="cpu", weights_only=True)
        assert len(saved["extra"]["anchors"]) == 2  # the re-aligned anchors are part of the state

    resumed, killed_at = kill_and_resume(tmp_path, "train_star.train_star_job", "star-0",
                                         [dataset_file, experiment(batchnorm) | {"star": STAR}, "star-0", anchors],
                                         on_killed=holds_realigned_anchors)
    assert f"re-aligned 2 anchors to the star after epoch {killed_at + 1}" in resumed.log.read_text()


# ------------------------------------------------------------------------------------------------------------------
# 3. + 4. the snakemake command line

EXP = "faults"
WF_EPOCHS = 4


def workflow_config(path: Path, **train) -> Path:
    """Like config/tiny.yaml, with models that train long enough (~0.3 s an epoch) to be killed mid-way."""
    cfg = {"experiments": {EXP: {
        "device": "cpu",
        "data": {"val_size": 1000, "train_subset": 20000, "test_subset": 1000},
        "model": {"name": "mlp", "depth": 1, "width": 64},
        "train": {"epochs": WF_EPOCHS, "batch_size": 64, "checkpoint_every": 1, **train},
        "anchors": {"count": 3, "seed_start": 0},
        "heldout": {"count": 2, "seed_start": 100},
        "star": {"n_anchors": [2], "seed_start": 200},
        # one pair of each type keeps the barrier stage short
        "bn": {"subset": 500},
        "barrier": {"grid_points": 3, "max_pairs": {"star_heldout": 1, "anchor_heldout": 1, "star_anchor": 1}},
        "controls": {"quality_matched": False, "merged": False},  # tests/workflow/test_controls_workflow.py runs them
    }}}
    path.write_text(yaml.safe_dump(cfg))
    return path


def snakemake_cmd(workdir: Path, config: Path) -> list[str]:
    return [SNAKEMAKE, "--directory", str(workdir), "--snakefile", str(workdir / "Snakefile"),
            "--configfile", str(config), "--cores", "1"]


def start_snakemake(workdir: Path, config: Path, name: str) -> tuple[subprocess.Popen, Path]:
    out = workdir / f"{name}.out"
    with open(out, "w") as f:
        proc = subprocess.Popen(snakemake_cmd(workdir, config), cwd=workdir, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return proc, out


def finish(proc: subprocess.Popen, out: Path) -> None:
    try:
        rc = proc.wait(timeout=WAIT_S)
    finally:
        kill_group(proc)
    assert rc == 0, f"snakemake failed ({rc}):\n{out.read_text()[-8000:]}"


def workflow_copy(path: Path, dataset_file: Path) -> Path:
    """A private copy of the workflow with the materialised dataset already in place: stage_data and
    prepare_data (~10 s, not what these tests are about) then have nothing to do."""
    path.mkdir()
    copy_workflow(path)
    (path / "resources").mkdir()
    shutil.copy(dataset_file, path / "resources" / "fashion_mnist.pt")
    return path


def stat_of(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return sha256(path), st.st_mtime_ns, st.st_ino


def log_of(res: Path, model: str) -> Path:
    rule = "train_star" if model.startswith("star-") else "train"
    return res / "logs" / rule / f"{model}.log"


def test_killed_snakemake_run_restarts_where_it_stopped(dataset_file, tmp_path):
    workdir = workflow_copy(tmp_path / "run", dataset_file)
    config = workflow_config(tmp_path / "faults.yaml")
    res = workdir / "results" / EXP
    models, states = res / "models", res / "state"
    # the uninterrupted run, alongside on the other core
    ref_dir = workflow_copy(tmp_path / "ref", dataset_file)
    reference = start_snakemake(ref_dir, config, "reference")
    proc, out = start_snakemake(workdir, config, "first")
    try:
        # With --cores 1 one job runs at a time: once a model is mid-training (its state saved, no checkpoint yet),
        # every checkpoint present belongs to a job snakemake has finished.
        deadline = time.monotonic() + WAIT_S
        while True:
            assert proc.poll() is None, f"snakemake ended ({proc.returncode}) before the kill:\n{out.read_text()}"
            assert time.monotonic() < deadline, f"no model mid-training after 2 finished ones in {WAIT_S}s"
            finished = sorted(models.glob("*.pt"))
            running = [p.stem for p in states.glob("*.pt") if not (models / p.name).exists()]
            if len(finished) >= 2 and running:
                break
            time.sleep(POLL_S)
        before = {p.name: stat_of(p) for p in finished}
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        kill_group(proc)
    assert proc.returncode == -signal.SIGKILL

    victim = running[0]
    killed_at = state_epoch(states / f"{victim}.pt")
    assert killed_at is not None and not (models / f"{victim}.pt").exists(), (
        f"{victim} finished in the instant before the kill")
    assert {p.name for p in models.glob("*.pt")} == set(before), "a model finished in the instant before the kill"
    assert not (res / "barriers.csv").exists()

    try:
        # SIGKILL leaves snakemake's lock behind; the same command must start anyway (common.smk clears a
        # lock no live snakemake process holds) and finish.
        assert (workdir / ".snakemake" / "locks").is_dir() and any((workdir / ".snakemake" / "locks").iterdir())
        finish(*start_snakemake(workdir, config, "second"))
        second_out = (workdir / "second.out").read_text()
        assert "Removed the locks of a snakemake run that is no longer running" in second_out
        for name, was in before.items():
            assert stat_of(models / name) == was, f"{name} was retrained: {second_out[-4000:]}"
        log = log_of(res, victim).read_text()
        state = Path("results", EXP, "state", f"{victim}.pt")  # as the rule passes it, relative to the workdir
        assert f"{victim}: resumed from {state} at epoch {killed_at}/{WF_EPOCHS}" in log, log
        assert not any(states.glob("*.pt")), "training states outlived their jobs"
        assert (res / "barriers.csv").is_file()
        for name in before:  # finished models were not trained again (their logs are from the first run)
            assert "resumed from" not in log_of(res, name[:-3]).read_text()

        finish(*reference)
    finally:
        kill_group(reference[0])
    ref_res = ref_dir / "results" / EXP
    for ckpt in sorted(ref_res.glob("models/*.pt")):
        assert sha256(res / "models" / ckpt.name) == sha256(ckpt), f"{ckpt.name} differs from the uninterrupted run"
    for name in ("barriers.csv", "curves.csv", "summary.csv"):
        assert (res / name).read_bytes() == (ref_res / name).read_bytes(), name


def test_diverging_model_fails_the_run_naming_model_epoch_and_step(dataset_file, tmp_path):
    workdir = workflow_copy(tmp_path / "run", dataset_file)
    # lr 1e6 with momentum: the loss is NaN after a few steps of the first epoch
    config = workflow_config(tmp_path / "diverge.yaml", lr=1.0e6, epochs=2)
    cfg = yaml.safe_load(config.read_text())
    cfg["experiments"][EXP]["data"]["train_subset"] = 2000
    config.write_text(yaml.safe_dump(cfg))
    proc = subprocess.run(snakemake_cmd(workdir, config), check=False, cwd=workdir, capture_output=True,
                          text=True, timeout=WAIT_S)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-4000:]
    found = re.search(r"((?:anchor|heldout|star)-\d+): loss is (nan|inf|-inf) at epoch (\d+), step (\d+); "
                      r"training diverged", output)
    assert found, output[-8000:]
    model, epoch, step = found[1], int(found[3]), int(found[4])
    assert epoch == 1 and 1 <= step <= 32, found[0]  # 2,000 images in batches of 64: 32 steps an epoch
    assert "DivergenceError" in output and "Error in rule train" in output, output[-8000:]
    assert f"output: results/{EXP}/models/{model}.pt, results/{EXP}/models/{model}.json" in output

    res = workdir / "results" / EXP
    assert not (res / "models" / f"{model}.pt").exists() and not (res / "models" / f"{model}.json").exists()
    assert not list(res.glob("models/*.pt")), "--cores 1 stops at the first failed job: no model finished"
    assert not any((res / name).exists() for name in ("barriers.csv", "curves.csv", "summary.csv"))
    assert not (res / "state" / f"{model}.pt").exists()  # no epoch was completed, so no state to resume from
    log = log_of(res, model)
    assert log.is_file() and "device cpu" in log.read_text()
    assert f"DivergenceError: {found[0]}" in log.read_text()  # the reason is in the rule log snakemake points to
