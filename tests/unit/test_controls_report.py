"""The controls in the report: bootstrap intervals of barrier ratios (starlight/report/intervals.py), the control and merged
columns of the sweep table (starlight/report/controls_table.py), the path metrics in summary.csv and the figure of the loss
along the path in absolute terms."""

import numpy as np
import pandas as pd
import pytest

from starlight.report.aggregate import summarise
from starlight.report.intervals import ratio_interval, resampled_means, verdict
from starlight.report.plots import plot_path_loss
from starlight.report.table import markdown, sweep_table

BASE = {"variant": "e", "axis": None, "value": None}
COLUMNS = ["pair_type", "model1", "model2", "n_anchors", "star.t_scheme", "train_loss_barrier", "test_loss_barrier"]


def test_the_interval_is_deterministic_given_the_seed_and_holds_the_ratio():
    rng = np.random.default_rng(1)
    num, den = 0.2 + 0.01 * rng.standard_normal(30), 0.5 + 0.01 * rng.standard_normal(40)
    first = ratio_interval(num, den, samples=500, seed=3)
    assert first == ratio_interval(num, den, samples=500, seed=3)
    assert first != ratio_interval(num, den, samples=500, seed=4)
    value, low, high = first
    assert value == pytest.approx(num.mean() / den.mean())
    assert low < 0.4 < high and high - low < 0.05  # the true ratio, tightly


def test_verdicts_follow_the_interval_against_one():
    rng = np.random.default_rng(0)
    small, large = 0.1 + 0.01 * rng.random(20), 0.3 + 0.01 * rng.random(20)
    overlapping = 0.1 + 0.2 * rng.random(20)
    assert verdict(*ratio_interval(small, large)[1:]) == "yes"
    assert verdict(*ratio_interval(large, small)[1:]) == "no"
    assert verdict(*ratio_interval(overlapping, 0.1 + 0.2 * rng.random(20))[1:]) == "not resolved"
    assert verdict(*ratio_interval([], large)[1:]) == "not resolved"
    assert all(np.isnan(ratio_interval(small, [])))


def test_resampling_stars_first_widens_the_interval_when_stars_differ():
    """Two stars, one good and one bad, each with many pairs: resampling pairs alone sees 40 pairs and a tight mean;
    resampling the stars first sees two stars, and a mean that is sometimes only the good or the bad one's."""
    values = np.r_[np.full(20, 0.1), np.full(20, 0.3)] + 0.001 * np.arange(40)
    stars = np.repeat(["star-k4-0", "star-k4-1"], 20)
    pairs = resampled_means(values, None, 1000, np.random.default_rng(0))
    nested = resampled_means(values, stars, 1000, np.random.default_rng(0))
    assert nested.std() > 2 * pairs.std()
    assert nested.min() == pytest.approx(0.1 + 0.001 * 9.5, abs=0.01)  # both draws the good star
    assert resampled_means(values, np.repeat(["star-k4-0"], 40), 10, np.random.default_rng(0)) == \
        pytest.approx(resampled_means(values, None, 10, np.random.default_rng(0)))  # one star: pairs only


def quality(model: str) -> tuple[float, float]:
    """Each model's own train loss and test accuracy: anchors 0.20/0.90 (anchor-3 0.40/0.80), held-out 0.25/0.88,
    stars 0.30/0.85, controls 0.30/0.86, merged models 0.60/0.70."""
    kind = model.split("-")[0]
    if model == "anchor-3":
        return 0.40, 0.80
    return {"anchor": (0.20, 0.90), "heldout": (0.25, 0.88), "star": (0.30, 0.85), "control": (0.30, 0.86),
            "merged": (0.60, 0.70)}[kind]


def with_endpoints(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLUMNS)
    for end in ("model1", "model2"):
        df[f"{end}_train_loss"], df[f"{end}_test_acc"] = zip(*df[end].map(quality))
    df["train_path_max_loss"] = df["train_loss_barrier"] + 0.3
    return df


def experiment(controls: bool = True) -> pd.DataFrame:
    """Anchors 0-3, held-out 100-103; stars of k 2 and 4 (uniform) and k 4 (beta), two replicates each; a control
    per star with twice its barriers; the merged models with three times the star's barriers."""
    rows = [("anchor_heldout", f"anchor-{a}", f"heldout-{h}", None, None, 0.5 + 0.01 * a, 0.4) for a in range(4)
            for h in range(100, 104)]
    for k, scheme, suffix in [(2, "uniform", ""), (4, "uniform", ""), (4, "beta", "-t_scheme=beta")]:
        for r in range(2):
            star = f"star-k{k}{suffix}-{r}"
            for h in range(100, 104):
                sh = 0.1 + 0.01 * (h % 3) + 0.02 * r
                rows.append(("star_heldout", star, f"heldout-{h}", k, scheme, sh, sh))
                if controls:
                    rows.append(("control_heldout", f"control-k{k}{suffix}-{r}", f"heldout-{h}", k, scheme, 2 * sh,
                                 2 * sh))
            rows += [("star_anchor", star, f"anchor-{a}", k, scheme, 0.05, 0.05) for a in range(k)]
    if controls:
        for k in (2, 4):
            rows += [("merged_heldout", f"merged-k{k}", f"heldout-{h}", k, None, 0.25 + 0.01 * (h % 2), 0.3)
                     for h in range(100, 104)]
            rows += [("merged_anchor", f"merged-k{k}", f"anchor-{a}", k, None, 0.2, 0.2) for a in range(k)]
    return with_endpoints(rows)


def test_controls_and_merged_pairs_join_the_star_groups():
    table = sweep_table([(BASE, experiment(), [2, 4], 100)], star_base={"star.t_scheme": "uniform"},
                        bootstrap={"samples": 400, "seed": 0})
    beta = table[(table["star.t_scheme"] == "beta") & (table["heldout_count"] == 4)
                 & (table["metric"] == "train_loss_barrier")].iloc[0]
    uniform = table[(table["star.t_scheme"] == "uniform") & (table["n_anchors"] == 4) & (table["heldout_count"] == 4)
                    & (table["metric"] == "train_loss_barrier")].iloc[0]
    for row in (beta, uniform):  # the merged model of k = 4 goes with both star groups of k = 4
        assert row["MH_n"] == 4 and row["MA_n"] == 4 and row["CH_n"] == 8 and row["SH_n"] == 8
        assert row["CH_mean"] == pytest.approx(2 * row["SH_mean"])
        assert row["SH_over_CH"] == pytest.approx(0.5) and row["SH_over_CH_lo"] < 0.5 < row["SH_over_CH_hi"] < 1
        assert row["SH_lt_CH"] == "yes" and row["SH_lt_MH"] == "yes"
        assert row["SH_over_AH_lo"] <= row["SH_over_AH"] <= row["SH_over_AH_hi"]
    two = table[(table["n_anchors"] == 2) & (table["heldout_count"] == 2)].iloc[0]
    assert two["MH_n"] == 2 and two["CH_n"] == 4 and two["MA_n"] == 2  # the first two held-out models only
    assert set(table["metric"]) == {"train_loss_barrier", "test_loss_barrier", "train_path_max_loss"}
    path = table[(table["metric"] == "train_path_max_loss") & (table["n_anchors"] == 2)].iloc[0]
    assert path["SH_mean"] == pytest.approx(two["SH_mean"] + 0.3)


def test_model_quality_comes_from_the_endpoint_columns():
    table = sweep_table([(BASE, experiment(), [4], 100)], bootstrap={"samples": 100, "seed": 0})
    k2, k4 = (table[table["n_anchors"] == k].iloc[0] for k in (2, 4))
    assert k2["anchors_train_loss"] == pytest.approx(0.20) and k2["anchors_test_acc"] == pytest.approx(0.90)
    assert k4["anchors_train_loss"] == pytest.approx((3 * 0.20 + 0.40) / 4)  # anchor-3 is among the first four
    assert k2["star_train_loss"] == pytest.approx(0.30) and k2["star_train_loss_ratio"] == pytest.approx(1.5)
    assert k2["control_test_acc"] == pytest.approx(0.86) and k2["control_test_acc_ratio"] == pytest.approx(0.86 / 0.9)
    assert k4["merged_train_loss_ratio"] == pytest.approx(0.60 / 0.25)
    text = markdown(table)
    assert "## Controls: does the star beat an ordinary model of its quality?" in text
    assert "## Model quality" in text and "| e | 2 | uniform | 0.3000 (×1.500) | 0.3000 (×1.500) | 0.6000 (×3.000) |" \
        in text


def test_without_controls_the_columns_are_empty_and_the_section_is_left_out():
    table = sweep_table([(BASE, experiment(controls=False), [4], 100)], bootstrap={"samples": 100, "seed": 0})
    assert (table["CH_n"] == 0).all() and table["SH_over_CH"].isna().all() and table["merged_train_loss"].isna().all()
    assert (table["SH_lt_CH"] == "not resolved").all() and (table["SH_lt_MH"] == "not resolved").all()
    assert table["SH_over_AH_lo"].notna().all()
    text = markdown(table)
    assert "## Controls" not in text and "## Model quality" in text and "control train loss" not in text


def test_the_table_without_endpoint_or_path_columns_keeps_its_rows():
    df = experiment()[COLUMNS]
    table = sweep_table([(BASE, df, [4], 100)], bootstrap={"samples": 50, "seed": 0})
    assert set(table["metric"]) == {"train_loss_barrier", "test_loss_barrier"}
    assert table["star_train_loss"].isna().all() and "## Model quality" not in markdown(table)


def test_summary_has_the_path_metrics_beside_the_barriers():
    df = experiment().assign(train_acc_barrier=-0.01, test_acc_barrier=-0.02, train_path_excess_loss=0.0)
    before = summarise(df.drop(columns=["train_path_max_loss", "train_path_excess_loss"]))
    after = summarise(df)
    assert set(after["metric"]) - set(before["metric"]) == {"train_path_max_loss", "train_path_excess_loss"}
    same = after[after["metric"].isin(before["metric"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(same, before.reset_index(drop=True))
    mh = after[(after["pair_type"] == "merged_heldout") & (after["metric"] == "train_path_max_loss")]
    assert list(mh["n"]) == [4, 4] and list(mh["n_anchors"]) == [2, 4]


def curves(controls: bool) -> pd.DataFrame:
    """Straight-line losses between each pair's endpoints plus a bump of 0.1, aligned and unaligned."""
    rows = []
    pairs = experiment(controls)
    pairs = pairs[pairs["pair_type"] != "star_anchor"]
    for _, p in pairs.iterrows():
        for aligned in (True, False):
            for t in np.linspace(0, 1, 5):
                for split in ("train", "test"):
                    loss = (1 - t) * p["model1_train_loss"] + t * p["model2_train_loss"] + 0.1 * t * (1 - t)
                    rows.append({**p[["pair_type", "model1", "model2", "n_anchors", "star.t_scheme"]].to_dict(),
                                 "aligned": aligned, "t": t, "split": split, "loss": loss, "accuracy": 0.9})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("controls", [True, False])
def test_the_path_loss_figure_is_written_with_and_without_controls(tmp_path, controls):
    paths = plot_path_loss(curves(controls), tmp_path, "e")
    assert [p.name for p in paths] == ["path_loss.png", "path_loss.svg"]
    assert all(p.stat().st_size > 1000 for p in paths)
