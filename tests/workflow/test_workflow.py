"""The whole DAG on the tiny config through the real `snakemake` command line."""

import re

import pandas as pd
import pytest
import yaml
from conftest import copy_workflow, digest, planned_jobs, run_snakemake

pytestmark = pytest.mark.slow

BARRIER_COLUMNS = ["experiment", "pair_type", "model1", "model2", "train_loss_barrier", "test_loss_barrier",
                   "train_acc_barrier", "test_acc_barrier"]
SUMMARY_COLUMNS = ["pair_type", "n_anchors", "metric", "n", "mean", "std", "min", "max"]


def pair_outputs(workdir, exp="tiny") -> dict[str, tuple[int, str]]:
    """'<pair_type>/<model1>__<model2>.<kind>.csv' -> (modification time in ns, digest) of every pair's file."""
    pairs = workdir / "results" / exp / "pairs"
    return {str(p.relative_to(pairs)): (p.stat().st_mtime_ns, digest(p)) for p in pairs.glob("*/*.csv")}


def batch_counts(workdir, model1, exp="tiny") -> tuple[int, int, int]:
    """(pairs, computed, unchanged) that the last barrier job of `model1` logged."""
    log = (workdir / "results" / exp / "logs" / "barrier" / f"{model1}.log").read_text()
    found = re.findall(rf"{re.escape(model1)}: (\d+) pairs, (\d+) computed, (\d+) unchanged", log)
    assert found, log[-2000:]
    return tuple(int(n) for n in found[-1])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("tiny"))
    config = workdir / "config" / "tiny.yaml"
    run_snakemake(workdir, "--configfile", str(config), "--cores", "2")
    return workdir, config


def test_outputs_and_columns(tiny_run):
    workdir, _ = tiny_run
    res = workdir / "results" / "tiny"
    barriers = pd.read_csv(res / "barriers.csv")
    assert list(barriers.columns[:8]) == BARRIER_COLUMNS
    for col in ("n_anchors", "unaligned_train_loss_barrier", "model1_train_loss", "model2_test_acc"):
        assert col in barriers.columns
    # 1 star x 2 held-out, 3 anchors x 2 held-out, 1 star x its 2 anchors
    assert barriers["pair_type"].value_counts().to_dict() == {"anchor_heldout": 6, "star_heldout": 2,
                                                              "star_anchor": 2}
    losses = barriers[[c for c in barriers if c.endswith("loss_barrier")]]
    accuracies = barriers[[c for c in barriers if c.endswith("acc_barrier")]]
    assert (losses.ge(0) | losses.isna()).all().all() and (accuracies.le(0) | accuracies.isna()).all().all()
    # only star-anchor pairs have barriers in the star's training basis; every other barrier is there
    basis = barriers.filter(like="training_basis_").notna().all(axis=1)
    assert basis.equals(barriers["pair_type"] == "star_anchor")
    others = barriers.drop(columns=barriers.filter(like="training_basis_").columns)
    assert others.filter(like="_barrier").notna().all().all()
    assert barriers.loc[barriers.pair_type != "anchor_heldout", "n_anchors"].eq(2).all()
    assert barriers.loc[barriers.pair_type == "anchor_heldout", "n_anchors"].isna().all()
    # alignment matters: aligned anchor-held-out barriers are lower than unaligned ones
    ah = barriers[barriers.pair_type == "anchor_heldout"]
    assert (ah["train_loss_barrier"] < ah["unaligned_train_loss_barrier"]).all()

    costs = pd.read_csv(res / "costs.csv", keep_default_na=False, na_values=[""])
    assert list(costs.columns[:5]) == ["rule", "wildcards", "wall_s", "cpu_s", "max_rss_mb"]
    jobs = costs[costs.rule != "all jobs"]
    assert jobs["rule"].value_counts().to_dict() == {"train": 5, "barrier": 4, "train_star": 1, "ensemble": 1,
                                                     "aggregate": 1, "figures": 1, "ensembles": 1}
    assert set(jobs.loc[jobs.rule == "barrier", "wildcards"]) == {"anchor-0", "anchor-1", "anchor-2", "star-k2-0"}
    assert (jobs["wall_s"] > 0).all() and (jobs["max_rss_mb"] > 50).all() and (jobs["startup_s"] > 0).all()
    total = costs[costs.rule == "all jobs"].iloc[0]
    assert total["wall_s"] == pytest.approx(jobs["wall_s"].sum())
    phases = jobs[["startup_s", "load_s", "compute_s", "write_s"]]
    assert total["compute_share"] == pytest.approx(jobs["compute_s"].sum() / phases.sum().sum())
    assert 0 < total["compute_share"] < 1

    summary = pd.read_csv(res / "summary.csv")
    assert list(summary.columns) == SUMMARY_COLUMNS
    metrics = {"train_loss_barrier", "test_loss_barrier", "train_acc_barrier", "test_acc_barrier"}
    paths = {f"{split}_path_{m}" for split in ("train", "test") for m in ("max_loss", "excess_loss", "min_acc",
                                                                          "excess_acc")}
    assert set(summary["metric"]) == metrics | {f"training_basis_{m}" for m in metrics} | paths
    # the training basis is a star-anchor notion: the star's own re-aligned anchors
    assert set(summary.loc[summary.metric.str.startswith("training_basis_"), "pair_type"]) == {"star_anchor"}
    sa = barriers[barriers.pair_type == "star_anchor"]
    assert sa["training_basis_train_loss_barrier"].notna().all()
    assert barriers.loc[barriers.pair_type != "star_anchor", "training_basis_train_loss_barrier"].isna().all()
    row = summary[(summary.pair_type == "anchor_heldout") & (summary.metric == "train_loss_barrier")].iloc[0]
    assert row["n"] == 6 and row["mean"] == pytest.approx(ah["train_loss_barrier"].mean())

    curves = pd.read_csv(res / "curves.csv")
    assert {"experiment", "pair_type", "model1", "model2", "n_anchors", "aligned", "t", "split", "loss",
            "accuracy"} <= set(curves.columns)
    assert len(curves) == 10 * 2 * 2 * 5  # pairs x aligned/unaligned x splits x grid points
    for fig in ("curves", "barriers", "path_loss"):
        for ext in ("png", "svg"):
            assert (res / "figures" / f"{fig}.{ext}").stat().st_size > 1000

    meta = yaml.safe_load((res / "models" / "anchor-0.json").read_text())
    assert meta["seed"] == 0 and meta["epochs"] == 2 and meta["final"]["train_acc"] > 0.6
    assert meta["config"]["train"]["lr"] == 0.1 and meta["device"] == "cpu"
    log = (res / "logs" / "train" / "anchor-0.log").read_text()
    assert re.search(r"anchor-0 epoch 2/2 loss [\d.]+ acc [\d.]+ .* [\d.]+s", log)
    assert not (res / "state").exists() or not any((res / "state").iterdir())


def test_same_config_gives_identical_results(tiny_run, tiny_reference):
    """A second, independent run of the same config reproduces every CSV and checkpoint byte for byte (CPU).

    Runs before the tests below edit the first run's config."""
    first, second = tiny_run[0] / "results" / "tiny", tiny_reference / "results" / "tiny"
    for name in ("barriers.csv", "curves.csv", "summary.csv", "ensembles.csv", "table.csv", "models/anchor-0.pt",
                 "models/star-k2-0.pt"):
        assert digest(first / name) == digest(second / name), name


def test_second_dry_run_has_nothing_to_do(tiny_run):
    workdir, config = tiny_run
    assert planned_jobs(workdir, "--configfile", str(config)) == {}


def test_a_star_setting_reruns_only_its_dependants(tiny_run, tmp_path):
    workdir, config = tiny_run
    cfg = yaml.safe_load(config.read_text())
    cfg["experiments"]["tiny"]["star"]["t_scheme"] = "beta"
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(cfg))
    # train_star 1, the barrier job of its 4 pairs (2 star-held-out, 2 star-anchor), its ensembles, the tables and
    # figures, the recorded config: no anchor retrained
    assert planned_jobs(workdir, "--configfile", str(edited)) == {
        "train_star": 1, "barrier": 1, "ensemble": 1, "ensembles": 1, "aggregate": 1, "figures": 1, "costs": 1,
        "sweep": 1, "experiment_config": 1, "all": 1}

    models = workdir / "results" / "tiny" / "models"
    before = {p.name: digest(p) for p in models.glob("*.pt")}
    pairs_before = pair_outputs(workdir)
    run_snakemake(workdir, "--configfile", str(edited), "--cores", "2")
    after = {p.name: digest(p) for p in models.glob("*.pt")}
    assert {k for k in before if before[k] != after[k]} == {"star-k2-0.pt"}
    # only the star's pairs are evaluated again; every other pair's files are left as they were
    assert batch_counts(workdir, "star-k2-0") == (4, 4, 0)
    pairs_after = pair_outputs(workdir)
    assert pairs_after.keys() == pairs_before.keys()
    rewritten = {name for name in pairs_before if pairs_before[name] != pairs_after[name]}
    assert rewritten == {name for name in pairs_before if name.startswith("star_")} and len(rewritten) == 8
    assert planned_jobs(workdir, "--configfile", str(edited)) == {}
    # the replaced star is not lost: both versions stand in the archive
    archived = {digest(p) for p in (workdir / "results" / "tiny" / "archive" / "star-k2-0").glob("*.pt")}
    assert archived == {before["star-k2-0.pt"], after["star-k2-0.pt"]}


def test_one_more_heldout_model_computes_only_its_pairs(tiny_run, tmp_path):
    workdir, config = tiny_run
    cfg = yaml.safe_load(config.read_text())
    cfg["experiments"]["tiny"]["star"]["t_scheme"] = "beta"  # as the test above left the star
    cfg["experiments"]["tiny"]["heldout"]["count"] = 3  # one more held-out model: only new work
    edited = tmp_path / "more.yaml"
    edited.write_text(yaml.safe_dump(cfg))
    # the new model, and the barrier jobs that gain a pair with it: each anchor's and the star's
    assert planned_jobs(workdir, "--configfile", str(edited)) == {
        "train": 1, "barrier": 4, "aggregate": 1, "figures": 1, "costs": 1, "sweep": 1, "experiment_config": 1,
        "all": 1}
    before = pair_outputs(workdir)
    run_snakemake(workdir, "--configfile", str(edited), "--cores", "2")
    for anchor in ("anchor-0", "anchor-1", "anchor-2"):
        assert batch_counts(workdir, anchor) == (3, 1, 2)
    assert batch_counts(workdir, "star-k2-0") == (5, 1, 4)
    after = pair_outputs(workdir)
    assert {name: after[name] for name in before} == before  # no earlier pair rewritten
    assert sorted(set(after) - set(before)) == sorted(
        f"{kind}/{m1}__heldout-102.{ext}.csv" for kind, m1 in [("anchor_heldout", "anchor-0"),
                                                              ("anchor_heldout", "anchor-1"),
                                                              ("anchor_heldout", "anchor-2"),
                                                              ("star_heldout", "star-k2-0")]
        for ext in ("curve", "barriers"))
    barriers = pd.read_csv(workdir / "results" / "tiny" / "barriers.csv")
    assert len(barriers) == 14 and (barriers["model2"] == "heldout-102").sum() == 4


def test_a_training_value_reruns_models_but_not_data(tiny_run, tmp_path):
    workdir, config = tiny_run
    cfg = yaml.safe_load(config.read_text())
    cfg["experiments"]["tiny"]["star"]["t_scheme"] = "beta"  # as the tests above left the experiment
    cfg["experiments"]["tiny"]["heldout"]["count"] = 3
    edited = tmp_path / "more.yaml"
    cfg["experiments"]["tiny"]["train"]["lr"] = 0.05  # every model depends on it, the data does not
    edited.write_text(yaml.safe_dump(cfg))
    assert planned_jobs(workdir, "--configfile", str(edited)) == {
        "train": 6, "train_star": 1, "barrier": 4, "ensemble": 1, "ensembles": 1, "aggregate": 1, "figures": 1,
        "costs": 1, "sweep": 1, "experiment_config": 1, "all": 1}
