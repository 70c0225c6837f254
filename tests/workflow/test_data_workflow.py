"""The datasets through the real `snakemake` command line: planning without data, prepared files keyed on the
synthetic settings, and the whole DAG on the synthetic CIFAR-shaped smoke config."""

import json
import shutil

import pandas as pd
import pytest
import torch
import yaml
from conftest import ROOT, copy_workflow, job_counts, planned_jobs, run_snakemake

pytestmark = pytest.mark.slow

SMALL = {"model": {"name": "cnn", "depth": 1, "width": 4}, "anchors": {"count": 1, "seed_start": 0},
         "heldout": {"count": 1, "seed_start": 100}, "star": {"n_anchors": [1], "seed_start": 200}}


def write_config(workdir, experiments: dict, **top) -> str:
    path = workdir / "data-test.yaml"
    path.write_text(yaml.safe_dump({**top, "experiments": experiments}))
    return str(path)


def test_missing_data_plans_and_warns_then_stops_before_the_first_job(tmp_path):
    workdir = copy_workflow(tmp_path)
    cfg = write_config(workdir, {"c10": {"dataset": "cifar10", **SMALL}, "inet": {"dataset": "imagenet", **SMALL}},
                       data_roots={"imagenet": str(tmp_path / "scratch" / "imagenet")})
    dry = run_snakemake(workdir, "-n", "--configfile", cfg)
    out = dry.stdout + dry.stderr
    assert "Data missing" in out
    assert "cifar-10-batches-py/{data_batch_1,data_batch_2,data_batch_3,data_batch_4,data_batch_5,test_batch}" in out
    assert "allow_download: true" in out and f"data_root '{tmp_path / 'scratch' / 'imagenet'}' does not exist" in out
    # CIFAR-10 is staged and prepared once; ImageNet is read from its folder, never prepared
    planned = job_counts(dry.stdout)
    rules = ("stage_data", "prepare_data", "train", "train_star", "train_control", "merge_anchors", "barrier")
    assert {rule: planned.get(rule) for rule in rules} == {
        "stage_data": 1, "prepare_data": 1, "train": 4, "train_star": 2, "train_control": 2, "merge_anchors": 2,
        "barrier": 8}
    assert "resources/cifar10.pt" in dry.stdout and "resources/imagenet" not in dry.stdout

    real = run_snakemake(workdir, "--configfile", cfg, "--cores", "1", check=False)
    out = real.stdout + real.stderr
    assert real.returncode != 0 and "data missing" in out and "data_batch_1" in out and "imagenet" in out
    assert not any((workdir / d).exists() for d in ("results", "resources", "logs"))


def test_synthetic_settings_key_the_prepared_file(tmp_path):
    workdir = copy_workflow(tmp_path)
    small = {"train_size": 200, "test_size": 50}
    cfg = write_config(workdir, {
        "rgb": {"dataset": "synthetic", "data": {"synthetic": {"shape": [3, 16, 16], **small}}, **SMALL},
        "gray": {"dataset": "synthetic", "data": {"synthetic": {"shape": [1, 16, 16], **small}}, **SMALL},
    })
    dry = run_snakemake(workdir, "-n", "--configfile", cfg)
    assert job_counts(dry.stdout)["prepare_data"] == 2
    for stem in ("synthetic-3x16x16-10classes-200train-50test-seed0", "synthetic-1x16x16-10classes-200train-50test-seed0"):
        assert f"resources/{stem}.pt" in dry.stdout


def test_synthetic_resnet_smoke_config_runs_the_whole_dag(tmp_path):
    workdir = copy_workflow(tmp_path)
    run_snakemake(workdir, "--configfile", "config/synthetic.yaml", "--cores", "2")
    res = workdir / "results" / "synthetic_resnet"
    prepared = workdir / "resources" / "synthetic-3x32x32-10classes-1000train-300test-seed0.pt"
    raw = torch.load(prepared, weights_only=True)
    assert raw["train_x"].shape == (1000, 3, 32, 32) and raw["train_x"].dtype == torch.uint8
    barriers = pd.read_csv(res / "barriers.csv")
    assert barriers["pair_type"].value_counts().to_dict() == {"star_heldout": 1, "anchor_heldout": 1, "star_anchor": 1,
                                                              "control_heldout": 1, "merged_heldout": 1,
                                                              "merged_anchor": 1}
    # the controls with BatchNorm: the control matches its star's train loss with BN re-estimated as every model
    star_loss = barriers.loc[barriers.pair_type == "star_heldout", "model1_train_loss"].iloc[0]
    control_loss = barriers.loc[barriers.pair_type == "control_heldout", "model1_train_loss"].iloc[0]
    assert abs(control_loss / star_loss - 1) <= 0.02, (control_loss, star_loss)
    assert barriers.filter(regex="^(unaligned_)?(train|test)_(loss|acc)_barrier$").notna().all().all()
    # the training basis is measured for the star-anchor pair only
    basis = barriers.filter(like="training_basis_")
    assert basis[barriers.pair_type == "star_anchor"].notna().all().all()
    assert basis[barriers.pair_type != "star_anchor"].isna().all().all()
    # barrier.train_eval_subset and bn.subset: 300 of the 900 training images, 200 for BN
    assert barriers[["n_train_eval", "n_test_eval", "n_bn"]].drop_duplicates().values.tolist() == [[300, 300, 200]]
    assert set(pd.read_csv(res / "curves.csv")["t"]) == {0.0, 0.5, 1.0}
    for name in ("curves.png", "barriers.svg"):
        assert (res / "figures" / name).stat().st_size > 0
    stars = sorted(p.stem for p in (res / "models").glob("star-*.pt"))
    assert len(stars) == 1
    for model in ("anchor-0", "anchor-1", "heldout-100", *stars):
        meta = json.loads((res / "models" / f"{model}.json").read_text())
        assert meta["config"]["data"]["augment"] == {"crop": True, "flip": True, "padding": 4}
        losses = [h["loss"] for h in meta["history"]]
        assert losses[1] < losses[0], (model, losses)
        if not model.startswith("star"):  # a star this young is good along its segments, not yet on its own
            assert meta["final"]["test_acc"] > 0.3, (model, meta["final"])  # chance is 0.1
        state = torch.load(res / "models" / f"{model}.pt", weights_only=True)["state_dict"]
        assert state["conv1.weight"].shape[0] == 8  # ResNet18's 64 stem channels at 1/8 width
    log = (res / "logs" / "train" / "anchor-0.log").read_text()
    assert "epoch 2/2" in log


def test_an_edit_to_a_dataset_the_experiment_does_not_use_reruns_nothing(tiny_reference, tmp_path):
    """Code fingerprints count only the selected dataset's source format: the tiny experiment reads IDX files."""
    work = tmp_path / "work"
    shutil.copytree(tiny_reference, work, symlinks=True)
    shutil.copytree(ROOT / "starlight", work / "starlight", ignore=shutil.ignore_patterns("__pycache__"))

    def plan():
        return planned_jobs(work, "--configfile", "config/tiny.yaml", env={"PYTHONPATH": str(work)})

    for module in ("cifar.py", "folder.py", "synthetic.py"):
        with open(work / "starlight" / "data" / module, "a") as f:
            f.write("\nX = 1\n")
    assert plan() == {}
    with open(work / "starlight" / "data" / "idx.py", "a") as f:
        f.write("\nX = 1\n")
    planned = plan()
    assert planned["prepare_data"] == 1 and planned["train"] == 5 and planned["barrier"] == 4
