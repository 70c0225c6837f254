"""Experiment tracking (starlight/tracking): a tracked training job logs every epoch to TensorBoard and W&B
(offline), read back with their own readers, and trains exactly the model an untracked job trains; the checks
that stop a run before any job."""

import json
import sys

import pytest
import torch
from conftest import job_experiment
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from wandb_records import history, offline_runs

from starlight.jobs.train import train_job
from starlight.jobs.train_star import train_star_job
from starlight.pipeline.code import ROOT, modules_of
from starlight.tracking import live, settings

EXP = job_experiment({"name": "mlp", "depth": 1, "width": 16}, epochs=2)
STAR = {"t_scheme": "beta", "t_constant": 0.5, "mu_star": 0.0, "realign_every_epoch": True, "n_anchors": 2,
        "seed": 7}
ON = {"wandb": {"project": "starlight-tests", "entity": None, "group": None, "mode": "offline"}, "tensorboard": True}


@pytest.fixture
def wandb_env(tmp_path, monkeypatch):
    """W&B offline and silent, its own folders in tmp_path; the runs go where the pipeline puts them."""
    monkeypatch.chdir(tmp_path)
    for name in ("CONFIG", "CACHE", "DATA", "ARTIFACT"):
        monkeypatch.setenv(f"WANDB_{name}_DIR", str(tmp_path / f"wandb-{name.lower()}"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_DIR", raising=False)
    return tmp_path


def scalars(folder, tag):
    events = EventAccumulator(str(folder))
    events.Reload()
    return {e.step: e.value for e in events.Scalars(tag)}


def test_tracked_jobs_log_every_epoch_and_train_the_same_models(dataset_file, wandb_env):
    out = wandb_env / "models"
    data = str(dataset_file)
    for name in ("anchor-0", "anchor-1"):
        role, seed = name.split("-")
        train_job(data, EXP, role, int(seed), str(out / f"{name}.pt"), str(out / f"{name}.json"))
    with live(ON, exp="tiny", model="anchor-0", role="anchor", config=EXP) as on_epoch:
        train_job(data, EXP, "anchor", 0, str(out / "tracked.pt"), str(out / "tracked.json"), on_epoch=on_epoch)
    anchors = [str(out / "anchor-0.pt"), str(out / "anchor-1.pt")]
    train_star_job(data, EXP | {"star": STAR}, "star-k2-0", anchors, str(out / "star.pt"), str(out / "star.json"))
    with live(ON, exp="tiny", model="star-k2-0", role="star", config=EXP | {"star": STAR}) as on_epoch:
        train_star_job(data, EXP | {"star": STAR}, "star-k2-0", anchors, str(out / "star-tracked.pt"),
                       str(out / "star-tracked.json"), on_epoch=on_epoch)

    for plain, tracked in (("anchor-0", "tracked"), ("star", "star-tracked")):
        a, b = torch.load(out / f"{plain}.pt"), torch.load(out / f"{tracked}.pt")
        assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"]), plain
        ja, jb = (json.loads((out / f"{n}.json").read_text()) for n in (plain, tracked))
        assert [r["loss"] for r in ja["history"]] == [r["loss"] for r in jb["history"]]
        assert ja["final"] == jb["final"]

    for model, meta in (("anchor-0", "tracked"), ("star-k2-0", "star-tracked")):
        meta = json.loads((out / f"{meta}.json").read_text())
        folder = wandb_env / "results" / "tiny" / "tracking" / "tensorboard" / model
        train_loss = scalars(folder, "train/loss")
        assert sorted(train_loss) == [1, 2]
        assert train_loss[2] == pytest.approx(meta["history"][1]["loss"], rel=1e-6)
        assert scalars(folder, "lr")[1] == pytest.approx(meta["history"][0]["lr"], rel=1e-6)
        # the last epoch's validation pass sees the finished model (an MLP without BN): the job's final val metrics
        assert scalars(folder, "val/loss")[2] == pytest.approx(meta["final"]["val_loss"], rel=1e-5)
        assert scalars(folder, "val/acc")[2] == pytest.approx(meta["final"]["val_acc"], rel=1e-6)
        assert 0 < scalars(folder, "time/step_s")[2] < scalars(folder, "time/epoch_s")[2]

    runs = offline_runs(wandb_env / "results" / "tiny" / "tracking" / "wandb")
    assert sorted(runs) == ["tiny/anchor-0", "tiny/star-k2-0"]
    star = runs["tiny/star-k2-0"]
    run = next(r.run for r in star if r.WhichOneof("record_type") == "run")
    assert (run.run_group, run.job_type, run.project) == ("tiny", "star", "starlight-tests")
    config = {item.key: json.loads(item.value_json) for item in run.config.update}
    assert config["star"]["t_scheme"] == "beta" and config["model"]["width"] == 16
    logged = history(star)
    meta = json.loads((out / "star-tracked.json").read_text())
    assert sorted(logged) == [1, 2]
    assert float(logged[2]["train/loss"]) == meta["history"][1]["loss"]
    assert float(logged[1]["train/acc"]) == meta["history"][0]["acc"]


def test_tracking_off_opens_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for off in (None, {}, {"tensorboard": False}, {"wandb": {"mode": "disabled"}}):
        with live(off, exp="tiny", model="anchor-0", role="anchor", config={}) as on_epoch:
            assert on_epoch is None
        assert settings.backends(off) == [] and settings.problems(off) == []
    assert list(tmp_path.iterdir()) == []


def test_a_missing_package_is_named_with_the_extra_that_installs_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # what an environment without wandb imports
    [problem] = settings.problems({"wandb": {"mode": "offline"}, "tensorboard": True})
    assert problem == ("tracking.wandb: it is on, but the wandb package is not installed; install the tracking extra "
                       "(wandb and tensorboard) with: pip install -e '.[tracking]'")


def test_online_needs_credentials_from_the_environment_or_a_login(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(tmp_path / ".netrc"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_IDENTITY_TOKEN_FILE", raising=False)
    online = {"wandb": {"mode": "online"}}
    [problem] = settings.problems(online)
    assert problem.startswith("tracking.wandb.mode: online needs W&B credentials")
    assert settings.problems({"wandb": {"mode": "offline"}}) == []
    (tmp_path / ".netrc").write_text(f"machine api.wandb.ai\n  login user\n  password {'a' * 40}\n")
    (tmp_path / ".netrc").chmod(0o600)
    assert settings.problems(online) == []


@pytest.mark.parametrize("step", sorted(p.stem for p in (ROOT / "jobs").glob("*.py") if p.stem != "__init__"))
def test_no_step_but_publish_runs_tracking_code(step):
    """The training scripts hand the jobs a callback; no job imports the tracking code it calls, so no fingerprint
    but publish's covers it and an edit to it reruns nothing (tests/workflow/test_tracking_workflow.py)."""
    tracking = [m for m in modules_of(step, {"model": {"name": "mlp"}, "dataset": "fashion_mnist"})
                if m.startswith("starlight.tracking")]
    backends = ["starlight.tracking", *(f"starlight.tracking.{m}" for m in ("settings", "tensorboard_backend",
                                                                          "wandb_backend"))]
    assert tracking == (backends if step == "publish" else [])
    assert (ROOT / "tracking" / "__init__.py").read_text().startswith('"""Experiment tracking')
