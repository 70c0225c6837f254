"""Sweeps as config entries (starlight/pipeline/sweep.py), the stars they imply, and the table across a sweep."""

import pandas as pd
import pytest
import yaml
from conftest import ROOT

from starlight.pipeline import experiment as xp
from starlight.pipeline import sweep
from starlight.report.table import markdown, sweep_table

BASE = {
    "dataset": "fashion_mnist",
    "model": {"name": "mlp", "depth": 1, "width": 32, "batchnorm": False},
    "train": {"lr": 0.1, "epochs": 2},
    "anchors": {"count": 8, "seed_start": 0},
    "heldout": {"count": 3, "seed_start": 100},
    "star": {"n_anchors": [1, 8], "per_k": 1, "seed_start": 200, "t_scheme": "uniform", "mu_star": 0.0,
             "train": {}},
}


def exp(**axes):
    return {**BASE, "sweep": dict(axes)}


def test_no_sweep_is_one_variant_with_its_stars():
    (only,) = sweep.variants("e", exp())
    assert only.name == "e" and only.axis is None
    assert [s.id for s in xp.stars(only.exp)] == ["star-k1-0", "star-k8-0"]
    assert {s.seed for s in xp.stars(only.exp)} == {200}  # paired: the same seed for every k


def test_star_axes_add_stars_on_the_same_anchors():
    variants = sweep.variants("e", exp(**{"star.t_scheme": ["uniform", "beta", "constant"]}))
    assert [v.name for v in variants] == ["e"]
    ids = [s.id for s in xp.stars(variants[0].exp)]
    assert ids == ["star-k1-0", "star-k8-0", "star-k1-t_scheme=beta-0", "star-k8-t_scheme=beta-0",
                   "star-k1-t_scheme=constant-0", "star-k8-t_scheme=constant-0"]
    beta = xp.star(variants[0].exp, "star-k8-t_scheme=beta-0")
    assert xp.star_section(variants[0].exp, beta)["t_scheme"] == "beta"
    assert xp.star_columns(variants[0].exp)["star-k1-0"] == {"star.t_scheme": "uniform"}


def test_extending_an_axis_keeps_every_existing_name():
    before = [s.id for s in xp.stars(sweep.variants("e", exp(**{"star.mu_star": [0.0, 0.5]}))[0].exp)]
    after = [s.id for s in xp.stars(sweep.variants("e", exp(**{"star.mu_star": [0.0, 0.5, 1.0]}))[0].exp)]
    assert set(before) < set(after) and len(after) == len(before) + 2


def test_a_star_setting_may_say_which_stars_it_has():
    """A `star` axis value's n_anchors and per_k choose its stars' k and replicates without naming them: one
    experiment holds both a k sweep (one star per k) and an ablation with three stars at one k, and a star both imply
    is trained once."""
    e = {**exp(**{"star.t_scheme": ["uniform", "beta"], "star": [{"n_anchors": [1, 2, 4], "per_k": 1}]}),
         "star": {**BASE["star"], "n_anchors": [8], "per_k": 3}, "controls": {"merged": True}}
    sweep.check("experiments.e", e)
    ids = [s.id for s in xp.stars(e)]
    assert ids == ["star-k8-0", "star-k8-1", "star-k8-2", "star-k8-t_scheme=beta-0", "star-k8-t_scheme=beta-1",
                   "star-k8-t_scheme=beta-2", "star-k1-0", "star-k2-0", "star-k4-0"]
    assert {s.seed for s in xp.stars(e) if s.replicate == 0} == {200}  # paired across k and settings
    assert xp.merged_ks(e) == [8, 1, 2, 4]
    assert xp.star_columns(e)["star-k1-0"] == {"star.t_scheme": "uniform"}  # n_anchors, per_k: no columns
    assert xp.base_star_columns(e) == {"star.t_scheme": "uniform"}
    assert xp.star_section(e, xp.star(e, "star-k2-0"))["n_anchors"] == 2
    xp.check("e", {**e, "data": {}, "barrier": {}})  # seeds 200..202: disjoint from the other populations
    with pytest.raises(xp.ConfigError, match=r"experiments.e.sweep.star: a star on 16 anchors needs 16 anchors"):
        xp.check("e", {**e, "data": {}, "barrier": {}, "sweep": {"star": [{"n_anchors": [16]}]}})
    with pytest.raises(xp.ConfigError, match=r"seed ranges of heldout \(100..102\) and star \(100..104\) overlap"):
        xp.check("e", {**e, "data": {}, "barrier": {}, "star": {**e["star"], "seed_start": 100},
                       "anchors": {"count": 8, "seed_start": 1000}, "sweep": {"star": [{"per_k": 5}]}})


def test_model_axes_are_variants_with_their_own_populations_and_base_stars():
    variants = sweep.variants("e", exp(**{"model.width": [16, 32, 64], "star.t_scheme": ["uniform", "beta"]}))
    assert [v.name for v in variants] == ["e", "e/model.width=16", "e/model.width=64"]  # 32 is the base
    assert variants[1].exp["model"]["width"] == 16 and variants[1].exp["model"]["depth"] == 1
    assert [s.id for s in xp.stars(variants[1].exp)] == ["star-k1-0", "star-k8-0"]  # one axis at a time


def test_section_axes_vary_settings_together():
    variants = sweep.variants("e", exp(model=[{"depth": 2, "width": 8}, {"depth": 1, "width": 32}]))
    assert [v.name for v in variants] == ["e", "e/depth=2,width=8"]
    assert variants[1].exp["model"] == {**BASE["model"], "depth": 2, "width": 8}


def test_nested_heldout_counts_train_the_largest():
    (only,) = sweep.variants("e", exp(**{"heldout.count": [3, 50]}))
    assert only.exp["heldout"]["count"] == 50 and sweep.nested_counts(only.exp) == [3, 50]


def test_the_cpu_sweep_sweeps_around_the_default_experiment():
    """config/cpu_sweep.yaml is the default experiment (same name, same settings) with the paper's sweeps added: after
    `make run` it trains only what the sweep adds (its own stars and width variants)."""
    default = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["experiments"]
    swept = yaml.safe_load((ROOT / "config" / "cpu_sweep.yaml").read_text())["experiments"]
    assert swept.keys() == default.keys()
    (name,) = swept
    assert {k: v for k, v in swept[name].items() if k not in ("sweep", "ensembles")} == \
        {k: v for k, v in default[name].items() if k != "ensembles"}
    exp = swept[name]
    assert exp["star"]["n_anchors"] == [1, 2, 4, 8] and exp["anchors"]["count"] == 8
    assert [v.value for v in sweep.variants(name, exp)] == [None, 64, 192]
    assert [s.get("t_scheme") for s in sweep.star_settings(exp)] == [None, "uniform", "constant"]


@pytest.mark.parametrize("axes,message", [
    ({"modle.width": [1]}, "sweep.modle.width: not a setting"),
    ({"star.n_anchors": [1, 2]}, "the stars' k values are the list star.n_anchors"),
    ({"star.per_k": [1, 2]}, "a `star` axis value may give its own n_anchors and per_k"),
    ({"star": [{"n_anchors": [2, 2]}]}, r"n_anchors=\[2, 2\]: give a list of distinct k values >= 1"),
    ({"star": [{"n_anchors": 4}]}, "n_anchors=4: give a list"),
    ({"star": [{"per_k": 0}]}, "per_k=0: give an integer >= 1"),
    ({"model.width": []}, "non-empty list"),
    ({"star.t_scheme": ["a/b"]}, "cannot name a folder"),
    ({"model": [5]}, "is a value but model is a section"),
])
def test_bad_axes_are_named(axes, message):
    with pytest.raises(sweep.SweepError, match=message):
        sweep.check("experiments.e", exp(**axes))


def barriers(rows):
    return pd.DataFrame(rows, columns=["pair_type", "model1", "model2", "n_anchors", "star.t_scheme",
                                       "train_loss_barrier", "test_loss_barrier"])


def test_table_rows_per_star_group_and_heldout_count_with_paper_values():
    df = barriers([
        ("anchor_heldout", "anchor-0", "heldout-100", None, None, 0.30, 0.20),
        ("anchor_heldout", "anchor-1", "heldout-100", None, None, 0.50, 0.40),
        ("anchor_heldout", "anchor-0", "heldout-101", None, None, 0.70, 0.60),
        ("star_heldout", "star-k2-0", "heldout-100", 2, "uniform", 0.10, 0.05),
        ("star_heldout", "star-k2-0", "heldout-101", 2, "uniform", 0.30, 0.25),
        ("star_anchor", "star-k2-0", "anchor-0", 2, "uniform", 0.01, 0.02),
        ("star_heldout", "star-k2-t_scheme=beta-0", "heldout-100", 2, "beta", 0.20, 0.15),
    ])
    paper = [{"metric": "train_loss_barrier", "star_heldout": 0.077, "anchor_heldout": 0.381}]
    table = sweep_table([({"variant": "e", "axis": None, "value": None}, df, [1, 2], 100)], paper,
                        {"star.t_scheme": "uniform"})
    row = table[(table["heldout_count"] == 1) & (table["star.t_scheme"] == "uniform")
                & (table["metric"] == "train_loss_barrier")].iloc[0]
    assert row["SH_mean"] == pytest.approx(0.10) and row["SH_n"] == 1  # heldout-101 is the second held-out
    assert row["AH_mean"] == pytest.approx(0.40) and row["AH_n"] == 2
    assert row["SA_mean"] == pytest.approx(0.01) and row["SH_over_AH"] == pytest.approx(0.25)
    assert row["paper_SH_over_AH"] == pytest.approx(0.077 / 0.381) and row["base_settings"]
    two = table[(table["heldout_count"] == 2) & (table["star.t_scheme"] == "uniform")
                & (table["metric"] == "test_loss_barrier")].iloc[0]
    assert two["SH_mean"] == pytest.approx(0.15) and two["AH_mean"] == pytest.approx(0.40) and two["AH_n"] == 3
    assert pd.isna(two["paper_SH"])  # the paper's value is for the train loss barrier
    beta = table[(table["star.t_scheme"] == "beta") & (table["heldout_count"] == 2)].iloc[0]
    assert not beta["base_settings"] and beta["SA_n"] == 0
    text = markdown(table)
    assert "| e | 2 | uniform | 1 | train_loss_barrier | 0.0100 ± 0.0000 (1) | 0.1000 ± 0.0000 (1) |" in text


def test_trend_over_k_gives_the_slope_per_doubling_and_the_ordering_at_every_k():
    rows = [("anchor_heldout", f"anchor-{a}", "heldout-100", None, None, 0.50, 0.30) for a in range(4)]
    for k, sa, sh in [(1, 0.00, 0.40), (2, 0.10, 0.30), (4, 0.15, 0.20)]:  # SH falls by 0.1 per doubling
        rows += [("star_heldout", f"star-k{k}-0", "heldout-100", k, "uniform", sh, sh / 2),
                 ("star_anchor", f"star-k{k}-0", "anchor-0", k, "uniform", sa, 0.0)]
    for k, sa, sh in [(1, 0.00, 0.45), (2, 0.35, 0.30)]:  # SA above SH at k = 2
        rows += [("star_heldout", f"star-k{k}-t_scheme=beta-0", "heldout-100", k, "beta", sh, sh),
                 ("star_anchor", f"star-k{k}-t_scheme=beta-0", "anchor-0", k, "beta", sa, sa)]
    table = sweep_table([({"variant": "e", "axis": None, "value": None}, barriers(rows), [1], 100)])
    train = table[table["metric"] == "train_loss_barrier"]
    uniform, beta = train[train["star.t_scheme"] == "uniform"], train[train["star.t_scheme"] == "beta"]
    assert uniform["SH_slope_log2k"].tolist() == pytest.approx([-0.1] * 3)
    assert uniform["ordered"].all() and uniform["ordered_every_k"].all()
    assert beta["SH_slope_log2k"].tolist() == pytest.approx([-0.15] * 2)
    assert beta["ordered"].tolist() == [True, False] and not beta["ordered_every_k"].any()
    text = markdown(table)
    assert "| e | uniform | 1 | train_loss_barrier | 1, 2, 4 | 0.4000 | 0.2000 | -0.1000 | yes |" in text
    assert "| e | beta | 1 | train_loss_barrier | 1, 2 | 0.4500 | 0.3000 | -0.1500 | no |" in text
