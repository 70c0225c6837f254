"""The controls through the real `snakemake`: turned on in a finished tiny run, they add exactly their own jobs and
rows, the control matches its star's train loss, and the tables and the figure carry them."""

import json
import shutil

import pandas as pd
import pytest
import yaml
from conftest import digest, planned_jobs, run_snakemake

from starlight.report.aggregate import PATH_COLUMNS

pytestmark = pytest.mark.slow

OLD_PAIR_TYPES = ("star_heldout", "anchor_heldout", "star_anchor")


@pytest.fixture(scope="module")
def with_controls(tiny_reference, tmp_path_factory):
    """The untouched tiny run (controls off), copied, then run again with both controls on."""
    workdir = tmp_path_factory.mktemp("controls") / "run"
    shutil.copytree(tiny_reference, workdir, symlinks=True)
    cfg = yaml.safe_load((workdir / "config" / "tiny.yaml").read_text())
    cfg["experiments"]["tiny"]["controls"] = {"quality_matched": True, "merged": True}
    config = workdir / "config" / "tiny_controls.yaml"
    config.write_text(yaml.safe_dump(cfg))
    plan = planned_jobs(workdir, "--configfile", str(config))
    run_snakemake(workdir, "--configfile", str(config), "--cores", "2")
    return tiny_reference / "results" / "tiny", workdir / "results" / "tiny", plan, workdir, config


def test_turning_the_controls_on_trains_only_them_and_measures_only_their_pairs(with_controls):
    _, _, plan, workdir, config = with_controls
    # the control of the one star and the merged k = 2 anchors, their barrier jobs; no model or pair retrained
    assert plan == {"train_control": 1, "merge_anchors": 1, "barrier": 2, "aggregate": 1, "figures": 1,
                    "costs": 1, "sweep": 1, "experiment_config": 1, "all": 1}
    assert planned_jobs(workdir, "--configfile", str(config)) == {}


def test_existing_rows_and_columns_are_unchanged(with_controls):
    before, after, *_ = with_controls
    old, new = pd.read_csv(before / "barriers.csv"), pd.read_csv(after / "barriers.csv")
    assert list(new.columns) == list(old.columns)  # the controls add rows, no column
    assert list(new.columns[-len(PATH_COLUMNS):]) == list(PATH_COLUMNS)  # the path metrics come after all others
    kept = new[new.pair_type.isin(OLD_PAIR_TYPES)].reset_index(drop=True)
    assert kept[[c for c in old.columns if c != "code"]].equals(old.drop(columns="code"))
    assert new.pair_type.value_counts().to_dict() == {"anchor_heldout": 6, "star_heldout": 2, "star_anchor": 2,
                                                      "control_heldout": 2, "merged_heldout": 2, "merged_anchor": 2}
    for name in ("anchor-0.pt", "star-k2-0.pt"):
        assert digest(before / "models" / name) == digest(after / "models" / name)


def test_the_control_matches_its_star_and_the_merged_model_its_anchors(with_controls):
    _, after, *_ = with_controls
    barriers = pd.read_csv(after / "barriers.csv")
    star_loss = barriers.loc[barriers.pair_type == "star_heldout", "model1_train_loss"].iloc[0]
    control = barriers[barriers.pair_type == "control_heldout"]
    assert set(control.model1) == {"control-k2-0"} and set(control.model2) == {"heldout-100", "heldout-101"}
    assert abs(control["model1_train_loss"].iloc[0] / star_loss - 1) <= 0.02
    meta = json.loads((after / "models" / "control-k2-0.json").read_text())
    assert meta["matched"] and meta["seed"] == 3000 and meta["star"] == "star-k2-0"
    assert meta["target_train_loss"] == pytest.approx(star_loss)
    assert meta["train_loss"] == pytest.approx(control["model1_train_loss"].iloc[0])
    assert 0 < meta["steps"] <= meta["full_steps"] and meta["search"][-1]["steps"] == meta["steps"]
    # every k-group row carries its k; the control's rows its star's grouping
    assert barriers.loc[barriers.pair_type.isin(["control_heldout", "merged_heldout", "merged_anchor"]),
                        "n_anchors"].eq(2).all()
    merged = barriers[barriers.pair_type == "merged_anchor"]
    assert sorted(merged.model2) == ["anchor-0", "anchor-1"] and set(merged.model1) == {"merged-k2"}
    merged_meta = json.loads((after / "models" / "merged-k2.json").read_text())
    assert merged_meta["anchors"] == ["anchor-0", "anchor-1"] and merged_meta["rounds"] >= 1
    # the path metrics: the highest loss on the path is at least either endpoint's, the excess is what lies above
    # the worse endpoint
    for split in ("train", "test"):
        top = barriers[[f"model1_{split}_loss", f"model2_{split}_loss"]].max(axis=1)
        assert (barriers[f"{split}_path_max_loss"] >= top - 1e-9).all()
        assert barriers[f"{split}_path_excess_loss"].to_numpy() == pytest.approx(
            (barriers[f"{split}_path_max_loss"] - top).clip(lower=0).to_numpy(), abs=1e-7)


def test_tables_and_the_figure_show_the_controls(with_controls):
    _, after, *_ = with_controls
    table = pd.read_csv(after / "table.csv")
    row = table[table.metric == "train_loss_barrier"].iloc[0]
    assert row["CH_n"] == 2 and row["MH_n"] == 2 and row["MA_n"] == 2
    assert row["SH_over_CH_lo"] <= row["SH_over_CH"] <= row["SH_over_CH_hi"]
    assert row["SH_lt_CH"] in ("yes", "no", "not resolved") and row["SH_lt_MH"] in ("yes", "no", "not resolved")
    assert row["control_train_loss_ratio"] == pytest.approx(row["star_train_loss_ratio"], rel=0.025)
    markdown = (after / "table.md").read_text()
    assert "## Controls" in markdown and "## Model quality" in markdown
    summary = pd.read_csv(after / "summary.csv")
    assert {"control_heldout", "merged_heldout", "merged_anchor"} <= set(summary.pair_type)
    assert set(PATH_COLUMNS) <= set(summary.metric)
    assert (after / "figures" / "path_loss.png").stat().st_size > 1000
