"""Experiment tracking through the real snakemake command line, after a finished tiny run: turning it on plans
`publish` alone, which logs the finished experiment from its files; a star retrained with tracking on logs its
epochs live; no file of the run holds the API key; an edit to tracking code reruns nothing; a bad tracking section
stops the run before any job, naming the key."""

import json
import shutil
import subprocess

import pytest
import yaml
from conftest import ROOT, copy_workflow, planned_jobs, run_snakemake
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from wandb_records import history, offline_runs

pytestmark = pytest.mark.slow

FAKE_KEY = "f4k3" * 10  # a well-formed API key that is nobody's
# What docs/tracking.md shows (a dry run and the upload of the offline runs); the upload needs the network, the
# listing of what it would upload does not.
TRACKED_RUN = ["--configfile", "config/tiny.yaml", "config/tracking.yaml", "--cores", "2"]
SYNC = ["sync", "--dry-run", "results/tiny/tracking/wandb/offline-run-*"]


def wandb_env(tmp_path):
    env = {f"WANDB_{name}_DIR": str(tmp_path / f"wandb-{name.lower()}") for name in ("CONFIG", "CACHE", "DATA")}
    return env | {"WANDB_ARTIFACT_DIR": str(tmp_path / "wandb-artifact"), "WANDB_MODE": "offline",
                  "WANDB_SILENT": "true", "WANDB_API_KEY": FAKE_KEY}


@pytest.fixture(scope="module")
def tracked(tiny_reference, tmp_path_factory):
    """A copy of the tiny reference run: planned and published with tracking on, then edited tracking code planned,
    then its star retrained with tracking on."""
    tmp = tmp_path_factory.mktemp("tracking")
    work = tmp / "work"
    shutil.copytree(tiny_reference, work, symlinks=True)
    env = wandb_env(tmp)
    config = ["--configfile", "config/tiny.yaml", "config/tracking.yaml"]
    plans = {"on": planned_jobs(work, *config, env=env)}
    run_snakemake(work, *TRACKED_RUN, env=env)
    # tracking code edited in a private copy of the package: no job, published or not, runs it
    shutil.copytree(ROOT / "starlight", work / "starlight", ignore=shutil.ignore_patterns("__pycache__"))
    for module in (work / "starlight" / "tracking").glob("*.py"):
        module.write_text(module.read_text() + "\nX = 1\n")
    edited = env | {"PYTHONPATH": str(work)}
    plans["edited, on"] = planned_jobs(work, *config, env=edited)
    plans["edited, off"] = planned_jobs(work, "--configfile", "config/tiny.yaml", env=edited)
    shutil.rmtree(work / "starlight")
    run_snakemake(work, *config, "--cores", "1", "--force", "results/tiny/models/star-k2-0.pt", env=env)
    return work, plans, tmp


def scalars(folder, tag):
    events = EventAccumulator(str(folder))
    events.Reload()
    return {e.step: e.value for e in events.Scalars(tag)}


def meta(work, model):
    return json.loads((work / "results" / "tiny" / "models" / f"{model}.json").read_text())


def test_turning_tracking_on_plans_only_publish(tracked):
    _, plans, _ = tracked
    assert plans["on"] == {"publish": 1, "all": 1}
    assert plans["edited, on"] == {} and plans["edited, off"] == {}


def test_publish_logs_the_finished_experiment_from_its_files(tracked):
    work, _, _ = tracked
    res = work / "results" / "tiny"
    published = json.loads((res / "tracking" / "published.json").read_text())
    [run] = published["runs"]
    assert published["backends"] == ["wandb", "tensorboard"]
    assert run["models"] == ["anchor-0", "anchor-1", "anchor-2", "heldout-100", "heldout-101", "star-k2-0"]
    assert run["epochs"] == 2 and run["pairs"] == 10  # SA 2, SH 2, AH 6
    assert {"table.md", "figures/curves.png", "costs.csv", "models/star-k2-0.json", "report.html"} <= \
        set(run["files"])
    # Snakemake's HTML report of the experiment, built by the publishing job itself
    html = (res / "report.html").read_text()
    assert all(f"results/tiny/{name}" in html for name in ("figures/curves.png", "summary.csv", "table.csv"))

    folder = res / "tracking" / "tensorboard" / "published"
    anchor = meta(work, "anchor-1")["history"]
    assert scalars(folder, "anchor-1/train/loss")[2] == pytest.approx(anchor[1]["loss"], rel=1e-6)
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    curve_tags = [t for t in events.Tags()["scalars"] if t.startswith("pairs/")]
    assert len(curve_tags) == 10 * 2 * 2 * 2  # pairs x aligned or not x train/test x loss/accuracy
    pair = "pairs/star_heldout/star-k2-0__heldout-100/aligned/test/loss"
    curve = [r for r in (res / "pairs" / "star_heldout" / "star-k2-0__heldout-100.curve.csv").read_text()
             .splitlines()[1:]]
    assert len(scalars(folder, pair)) == 5 == len({line.split(",")[1] for line in curve})  # the 5 grid points
    assert "images" in events.Tags() and any("curves.png" in t for t in events.Tags()["images"])

    runs = offline_runs(res / "tracking" / "wandb")
    records = runs["tiny"]
    logged = history(records)
    assert float(logged[2]["anchor-1/train/loss"]) == anchor[1]["loss"]
    run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
    assert (run.run_group, run.job_type) == ("tiny", "publish")
    [files] = [r.artifact for r in records if r.WhichOneof("record_type") == "artifact" and r.artifact.name == "tiny"]
    assert files.type == "results"
    assert {"table.md", "figures/curves.png", "models/anchor-1.json", "report.html"} <= \
        {e.path for e in files.manifest.contents}


def test_a_star_retrained_with_tracking_on_logs_its_epochs_live(tracked):
    work, _, _ = tracked
    res = work / "results" / "tiny"
    star = meta(work, "star-k2-0")
    folder = res / "tracking" / "tensorboard" / "star-k2-0"
    assert scalars(folder, "train/loss")[2] == pytest.approx(star["history"][1]["loss"], rel=1e-6)
    assert scalars(folder, "val/acc")[2] == pytest.approx(star["final"]["val_acc"], rel=1e-6)
    records = offline_runs(res / "tracking" / "wandb")["tiny/star-k2-0"]
    run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
    assert (run.run_group, run.job_type, run.project) == ("tiny", "star", "starlight")
    assert float(history(records)[1]["train/loss"]) == star["history"][0]["loss"]


def test_no_file_of_the_run_holds_the_api_key(tracked):
    _, _, tmp = tracked
    files = [p for p in tmp.rglob("*") if p.is_file()]
    assert len(files) > 100 and any(p.suffix == ".wandb" for p in files)
    assert [p for p in files if FAKE_KEY.encode() in p.read_bytes()] == []


def test_the_offline_runs_are_ready_for_wandb_sync(tracked):
    work, _, tmp = tracked
    wandb = str(ROOT / ".venv" / "bin" / "wandb")
    proc = subprocess.run(f"{wandb} {' '.join(SYNC)}", shell=True, cwd=work, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **wandb_env(tmp)}, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Would sync 2 run(s)" in proc.stdout + proc.stderr


# ---- bad input ----

@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("wf"))


def dry_run(workdir, tracking, env=None):
    path = workdir / "tracking-bad.yaml"
    path.write_text(yaml.safe_dump({"tracking": tracking}))
    return run_snakemake(workdir, "-n", "--configfile", "config/tiny.yaml", str(path), check=False, env=env)


def test_an_unknown_tracking_key_is_named(workdir):
    proc = dry_run(workdir, {"wandb": {"projekt": "x"}})
    assert proc.returncode == 1
    assert "'projekt' was unexpected" in proc.stdout + proc.stderr


def test_online_without_credentials_stops_before_any_job(workdir, tmp_path):
    env = {"HOME": str(tmp_path), "NETRC": str(tmp_path / ".netrc"), "WANDB_API_KEY": "",
           "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config")}
    proc = dry_run(workdir, {"wandb": {"mode": "online"}}, env)
    assert proc.returncode == 1
    assert "invalid config: tracking.wandb.mode: online needs W&B credentials" in proc.stdout + proc.stderr
    assert "Job stats" not in proc.stdout
