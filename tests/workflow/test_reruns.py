"""Results follow the config and the code: what a change reruns, measured with real snakemake on the tiny config.

Each test works on a copy of the tiny reference run (results and snakemake's records) with a private copy of the
`starlight` package put first on PYTHONPATH, so that editing the package edits what the workflow runs there, and
only there. Code fingerprints do not depend on where the package lives: the fresh copy has nothing to do.
"""

import json
import re
import shutil
import subprocess

import pandas as pd
import pytest
import yaml
from conftest import ROOT, digest, planned_jobs, run_snakemake

pytestmark = pytest.mark.slow

TINY = "config/tiny.yaml"
# The tiny experiment: 3 anchors and 2 held-out models, 1 star on 2 anchors, 10 pairs in 4 barrier jobs (one per
# model1: each anchor's 2 pairs, the star's 4). After the barriers come the experiment's tables and figures
# (aggregate, figures, sweep); after the star, its ensembles (ensemble, ensembles); after them all, the table of what
# each job cost (costs).
TABLES = {"aggregate": 1, "figures": 1, "costs": 1, "sweep": 1, "all": 1}
ENSEMBLES = {"ensemble": 1, "ensembles": 1}
EVERYTHING_FROM_TRAINING = {"train": 5, "train_star": 1, "barrier": 4, **ENSEMBLES, **TABLES}
BARRIERS_ON = {"barrier": 4, **TABLES}
# An edited config is recorded (results/<exp>/config.yaml, for the report) even when no result depends on the edit.
CONFIG_RECORD = {"experiment_config": 1, "all": 1}


@pytest.fixture
def workdir(tiny_reference, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(tiny_reference, work, symlinks=True)
    shutil.copytree(ROOT / "starlight", work / "starlight", ignore=shutil.ignore_patterns("__pycache__"))
    return work


def plan(workdir, config=TINY):
    return planned_jobs(workdir, "--configfile", str(config), env={"PYTHONPATH": str(workdir)})


def append(path, text):
    with open(path, "a") as f:
        f.write(text)


def edited_config(workdir, edit) -> str:
    cfg = yaml.safe_load((workdir / TINY).read_text())
    edit(cfg["experiments"]["tiny"])
    path = workdir / "edited.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_a_fresh_copy_of_the_package_reruns_nothing(workdir):
    assert plan(workdir) == {}


def test_a_checkout_that_changes_no_content_reruns_nothing(workdir):
    """git rewrites files on checkout: new modification times, same content."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(workdir)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "starlight", "workflow"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    subprocess.run([*git, "checkout", "-qb", "other"], check=True)
    for path in [*(workdir / "starlight").rglob("*.py"), *(workdir / "workflow" / "scripts").glob("*.py")]:
        append(path, "\nX = 1\n")
    subprocess.run([*git, "commit", "-qam", "other"], check=True)
    subprocess.run([*git, "checkout", "-q", "-"], check=True)  # back: every file rewritten, content as before
    assert plan(workdir) == {}


def test_a_comment_or_formatting_edit_reruns_nothing(workdir):
    append(workdir / "starlight" / "training" / "loop.py", "\n# a note on the training loop\n\n\n")
    append(workdir / "starlight" / "measure" / "barrier.py", "\n\n\n")
    assert plan(workdir) == {}


def test_an_edit_to_a_barrier_only_module_reruns_barriers_and_what_follows(workdir, tiny_reference):
    """The edit doubles every barrier: the rerun's CSVs show it, and no model is retrained."""
    barrier_py = workdir / "starlight" / "measure" / "barrier.py"
    source = barrier_py.read_text()
    edited = source.replace('        return max(0.0, max(gaps))', '        return 2.0 * max(0.0, max(gaps))')
    assert edited != source
    barrier_py.write_text(edited)
    assert plan(workdir) == BARRIERS_ON

    models = {p.name: digest(p) for p in (workdir / "results" / "tiny" / "models").iterdir()}
    run_snakemake(workdir, "--configfile", TINY, "--cores", "2", env={"PYTHONPATH": str(workdir)})
    assert {p.name: digest(p) for p in (workdir / "results" / "tiny" / "models").iterdir()} == models
    before = pd.read_csv(tiny_reference / "results" / "tiny" / "barriers.csv")
    after = pd.read_csv(workdir / "results" / "tiny" / "barriers.csv")
    assert (before["train_loss_barrier"] > 0).any()
    assert after["train_loss_barrier"].tolist() == pytest.approx((2 * before["train_loss_barrier"]).tolist())
    assert (after["code"] != before["code"]).all()
    assert plan(workdir) == {}


def test_an_edit_to_the_training_loop_reruns_everything_from_training(workdir):
    append(workdir / "starlight" / "training" / "loop.py", "\nX = 1\n")
    assert plan(workdir) == EVERYTHING_FROM_TRAINING


def test_an_edit_to_bn_code_reruns_what_uses_bn_re_estimation(workdir):
    """Training re-estimates BN statistics (for BN models), so training depends on bn.py."""
    append(workdir / "starlight" / "measure" / "bn.py", "\nX = 1\n")
    assert plan(workdir) == EVERYTHING_FROM_TRAINING


def test_an_edit_to_the_star_objective_reruns_the_star_and_its_pairs(workdir):
    append(workdir / "starlight" / "training" / "star.py", "\nX = 1\n")
    # the star, and the one barrier job of its 2 star-held-out and 2 star-anchor pairs
    assert plan(workdir) == {"train_star": 1, "barrier": 1, **ENSEMBLES, **TABLES}


def test_an_edit_to_plotting_reruns_only_the_figures(workdir):
    append(workdir / "starlight" / "report" / "plots.py", "\nX = 1\n")
    # the per-experiment figures, the sweep figures and the ensembles figure share plots.py
    assert plan(workdir) == {"figures": 1, "sweep": 1, "ensembles": 1, "costs": 1, "all": 1}


def test_an_edit_to_a_model_the_experiment_does_not_use_reruns_nothing(workdir):
    append(workdir / "starlight" / "models" / "cnn.py", "\nX = 1\n")  # the tiny experiment is an MLP
    assert plan(workdir) == {}
    append(workdir / "starlight" / "models" / "mlp.py", "\nX = 1\n")
    assert plan(workdir) == EVERYTHING_FROM_TRAINING


def test_an_edit_to_a_workflow_script_reruns_its_rule(workdir):
    append(workdir / "workflow" / "scripts" / "barrier.py", "\nX = 1\n")
    assert plan(workdir) == BARRIERS_ON


@pytest.mark.parametrize("edit", [
    lambda e: e["train"].update(checkpoint_every=3),  # how often state is saved: outputs are bit-identical
    lambda e: e.setdefault("bn", {}).update(subset=300, seed=4),  # the MLP has no BN
], ids=["checkpoint_every", "bn_settings_without_bn"])
def test_settings_that_change_no_output_rerun_nothing(workdir, edit):
    assert plan(workdir, edited_config(workdir, edit)) == CONFIG_RECORD


@pytest.mark.parametrize("setting", [{"seed": 5}, {"method": "rebasin"}], ids=["seed", "method"])
def test_alignment_settings_without_realignment_rerun_only_the_barriers(workdir, setting):
    """The star does not re-align its anchors (realign_every_epoch: false), so only the pairs' alignment uses
    the seed and the method."""
    assert yaml.safe_load((workdir / TINY).read_text())["experiments"]["tiny"]["star"].get(
        "realign_every_epoch", False) is False
    # the ensembles align the star's anchors with it too
    assert plan(workdir, edited_config(workdir, lambda e: e.setdefault("alignment", {}).update(setting))) \
        == {**BARRIERS_ON, **ENSEMBLES, **CONFIG_RECORD}


def test_outputs_record_their_code_and_library_versions(tiny_reference):
    res = tiny_reference / "results" / "tiny"
    meta = json.loads((res / "models" / "anchor-0.json").read_text())
    assert re.fullmatch(r"[0-9a-f]{16}", meta["code"])
    from importlib.metadata import version

    assert {lib: meta[lib] for lib in ("torch", "torchvision", "rebasin")} == {
        lib: version(lib) for lib in ("torch", "torchvision", "rebasin")}
    barriers = pd.read_csv(res / "barriers.csv")
    for column in ("code", "torch", "torchvision", "rebasin"):
        assert barriers[column].notna().all(), column
    assert barriers["code"].nunique() == 1 and barriers["code"][0] != meta["code"]  # another step, other code
    # the tiny config trains and evaluates on subsets: the CSVs say how many images each metric saw
    assert set(barriers["n_train_eval"]) == {2000} and set(barriers["n_test_eval"]) == {1000}
    assert set(barriers["n_bn"]) == {0}  # no BN in the tiny MLP


def test_an_edit_to_slurm_or_lock_code_reruns_nothing(workdir):
    """No job runs SLURM or lock code (the workflow does, around the jobs), so no fingerprint covers it."""
    edited = [*(workdir / "starlight" / "slurm").glob("*.py"), workdir / "starlight" / "pipeline" / "locks.py"]
    assert len(edited) >= 7
    for module in edited:
        append(module, "\nX = 1\n")
    assert plan(workdir) == {}
