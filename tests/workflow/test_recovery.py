"""A model whose training finished is never trained again (starlight/pipeline/recovery.py), through the real `snakemake`:
a job that fails after its model is complete loses its outputs (Snakemake deletes them), and the rerun restores
the model from the archive byte for byte; `--forcerun` still retrains."""

import shutil

import pytest
from conftest import digest, planned_jobs, run_snakemake

from starlight.pipeline.recovery import FORCED

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tiny_reference, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("recovery") / "run"
    shutil.copytree(tiny_reference, workdir, symlinks=True)
    return workdir, workdir / "config" / "tiny.yaml"


def log_text(workdir, rule, model):
    return (workdir / "results" / "tiny" / "logs" / rule / f"{model}.log").read_text()


def test_a_finished_model_whose_outputs_were_lost_is_restored_not_retrained(run, tiny_reference):
    workdir, config = run
    models, reference = workdir / "results" / "tiny" / "models", tiny_reference / "results" / "tiny" / "models"
    # what Snakemake does to a job that SLURM ended at its time limit after training had finished: its outputs are
    # deleted, and what depends on them has not run yet (here: the star)
    for model in ("anchor-0", "star-k2-0"):
        for suffix in (".pt", ".json"):
            (models / f"{model}{suffix}").unlink()
    star = "results/tiny/models/star-k2-0.pt"
    assert planned_jobs(workdir, star, "--configfile", str(config)) == {"train": 1, "train_star": 1}
    run_snakemake(workdir, star, "--configfile", str(config), "--cores", "2")
    for rule, model in (("train", "anchor-0"), ("train_star", "star-k2-0")):
        log = log_text(workdir, rule, model)
        assert f"{model}: its training had finished under the same config, code and inputs; restored from" in log
        assert " epoch 1/2 " not in log, log  # not one step trained
        assert digest(models / f"{model}.pt") == digest(reference / f"{model}.pt")
        assert digest(models / f"{model}.json") == digest(reference / f"{model}.json")
    # what was made from them stands: nothing else to do
    assert planned_jobs(workdir, "--configfile", str(config)) == {}
    assert not (workdir / FORCED).exists()


def test_forcerun_still_retrains(run, tiny_reference):
    workdir, config = run
    target = "results/tiny/models/anchor-1.pt"
    run_snakemake(workdir, "--configfile", str(config), "--cores", "2", "--forcerun", target)
    log = log_text(workdir, "train", "anchor-1")
    assert "restored from" not in log and " epoch 2/2 " in log, log
    # and so does the star that depends on it: a forced run restores nothing
    assert "restored from" not in log_text(workdir, "train_star", "star-k2-0")
    assert (workdir / FORCED).exists()
    # trained again on the CPU, the model is the same to the byte; the next run that runs a job clears the mark
    assert digest(workdir / target) == digest(tiny_reference / target)
    (workdir / "results" / "tiny" / "figures" / "curves.png").unlink()
    run_snakemake(workdir, "--configfile", str(config), "--cores", "2")
    assert not (workdir / FORCED).exists()
