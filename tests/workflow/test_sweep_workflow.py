"""A tiny sweep through the real snakemake command line: its table, figures, ensembles and HTML report, and what
extending each kind of axis plans (config/tiny_sweep.yaml)."""

import re

import pandas as pd
import pytest
import yaml
from conftest import copy_workflow, planned_jobs, run_snakemake

pytestmark = pytest.mark.slow

CONFIG = "config/tiny_sweep.yaml"
BASE, NARROW = "tiny_sweep", "tiny_sweep/model.width=16"
TABLES = {"aggregate": 1, "figures": 1, "costs": 1, "sweep": 1, "experiment_config": 1, "all": 1}


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("sweep"))
    run_snakemake(workdir, "--configfile", CONFIG, "--cores", "2")
    return workdir


def extended(workdir, edit):
    cfg = yaml.safe_load((workdir / CONFIG).read_text())
    edit(cfg["experiments"][BASE]["sweep"])
    path = workdir / "extended.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return planned_jobs(workdir, "--configfile", str(path))


def test_table_has_a_row_per_variant_star_group_and_heldout_count(sweep_run):
    table = pd.read_csv(sweep_run / "results" / BASE / "table.csv")
    train = table[table["metric"] == "train_loss_barrier"]
    groups = {(r.variant, r.n_anchors, r._5, r.heldout_count) for r in train.itertuples()}
    # the base: k in {1, 2} x t-scheme in {uniform, beta}; width 16: its base-setting stars only; counts {1, 2}
    assert groups == {(v, k, t, n) for n in (1, 2) for k in (1, 2) for v, t in
                      ((BASE, "uniform"), (BASE, "beta"), (NARROW, "uniform"))}
    assert (train["SA_n"] == train["n_anchors"]).all()  # a star on k anchors has k star-anchor pairs
    assert (train["SH_n"] == train["heldout_count"]).all() and (train["AH_n"] == 2 * train["heldout_count"]).all()
    assert (train[["SA_mean", "SH_mean", "AH_mean"]] >= 0).all().all()
    rows, trends = (sweep_run / "results" / BASE / "table.md").read_text().split("## Star–held-out barrier against k")
    trends = trends.split("\n## ")[0]  # the sections after it (the models' quality) are not trends
    assert rows.count("\n| tiny_sweep") == len(table)
    # one trend row per series over k (k in {1, 2}): its slope is that of two points, SH(2) - SH(1) per doubling
    assert trends.count("\n| tiny_sweep") == len(table) // 2
    for _, series in table.groupby(["variant", "star.t_scheme", "heldout_count", "metric"]):
        sh = series.sort_values("n_anchors")["SH_mean"].tolist()
        assert series["SH_slope_log2k"].tolist() == pytest.approx([sh[1] - sh[0]] * 2)
        assert series["ordered_every_k"].all() == ((series["SA_mean"] <= series["SH_mean"])
                                                  & (series["SH_mean"] < series["AH_mean"])).all()


def test_sweep_figures_and_ensembles(sweep_run):
    res = sweep_run / "results" / BASE
    figures = {p.name for p in (res / "figures" / "sweep").iterdir() if not p.name.startswith(".")}
    assert figures == {f"{name}.{ext}" for name in ("barrier_vs_k", "star_t_scheme", "variants_model.width")
                       for ext in ("png", "svg")}
    assert all((res / "figures" / "sweep" / f).stat().st_size > 10_000 for f in figures)
    ensembles = pd.read_csv(res / "ensembles.csv", keep_default_na=False, na_values=[""])
    assert ensembles["star"].nunique() == 4 and (ensembles["test_acc"] > 0.5).all()
    assert (sweep_run / "results" / NARROW / "ensembles.csv").exists()


def test_report_holds_every_figure_table_and_the_config(sweep_run):
    run_snakemake(sweep_run, "--configfile", CONFIG, "--report", "report.html")
    html = (sweep_run / "report.html").read_text()
    for variant in (BASE, NARROW):
        for name in ("curves.png", "barriers.png", "ensembles.png", "summary.csv"):
            assert re.search(rf"{re.escape(variant)}/(figures/)?{re.escape(name)}", html), (variant, name)
    for name in ("barrier_vs_k.png", "star_t_scheme.png", "variants_model.width.png", "table.csv", "config.yaml"):
        assert f"{BASE}/" in html and name in html, name


def test_extending_a_star_axis_adds_only_its_stars_and_pairs(sweep_run):
    plan = extended(sweep_run, lambda s: s["star.t_scheme"].append("constant"))
    # two stars (k=1, k=2), the barrier jobs of their 2 x 2 star-held-out and 1 + 2 star-anchor pairs (one per
    # star), their ensembles: nothing retrained
    assert plan == {"train_star": 2, "barrier": 2, "ensemble": 2, "ensembles": 1, **TABLES}


def test_extending_a_model_axis_trains_only_the_new_variant(sweep_run):
    plan = extended(sweep_run, lambda s: s["model.width"].append(8))
    # 2 anchors, 2 held-out models, 2 stars; 4 anchor-held-out, 4 star-held-out, 3 star-anchor pairs in one
    # barrier job per anchor and per star
    assert plan == {"train": 4, "train_star": 2, "barrier": 4, "ensemble": 2, "ensembles": 1, **TABLES}


def test_extending_the_heldout_counts_trains_only_new_heldout_models(sweep_run):
    plan = extended(sweep_run, lambda s: s["heldout.count"].append(3))
    # one held-out model per variant, and its pairs: 2 anchors + 4 stars (base), 2 anchors + 2 stars (width 16), in
    # the barrier jobs of those models (each computes only its new pair)
    assert plan == {"train": 2, "barrier": 10, "aggregate": 2, "figures": 2, "costs": 2, "sweep": 1,
                    "experiment_config": 1, "all": 1}
