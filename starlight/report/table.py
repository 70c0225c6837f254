"""The experiment's table across its sweep: SA, SH and AH barriers (mean ± std, n) and SH/AH for each sweep value,
with the paper's value beside it where the config states one.

One row per (variant, star group, held-out count, metric). A variant is the base config or one value of a
model/data/training axis; a star group is a k and the star settings; the held-out count is each value of a
`heldout.count` axis (its rows read the first n held-out models). Anchor–held-out barriers belong to a variant and
a held-out count, not to a star, so each star group's row shows its variant's.

Across k, `k_trend` reads each series of rows that differ only in k: the least-squares slope of mean SH against
log2 k (`SH_slope_log2k`, per doubling of k) and whether SA ≤ SH < AH holds at every k of the series (`ordered`).

Beside the barriers, the rows of the path's absolute loss (`*_path_max_loss`, `*_path_excess_loss`) where the
barriers have them, and the controls (starlight/report/controls_table.py): the quality-matched controls' pairs (CH) belong
to their star's group like SH, the merged model's (MH, MA) to every star group of its k like AH to every group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .aggregate import group_columns
from .controls_table import (
    CONTROL_PAIRS,
    MERGED_PAIRS,
    controls_markdown,
    endpoint_quality,
    first_anchors,
    interval_columns,
    quality_columns,
    quality_markdown,
)

PAIRS = {"SA": "star_anchor", "SH": "star_heldout", "AH": "anchor_heldout"}
METRICS = ("train_loss_barrier", "test_loss_barrier")
PATH_METRICS = ("train_path_max_loss", "test_path_max_loss", "train_path_excess_loss", "test_path_excess_loss")


def _stats(values: pd.Series, prefix: str) -> dict:
    return {f"{prefix}_mean": values.mean(), f"{prefix}_std": values.std(), f"{prefix}_n": int(values.count())}


def _heldout_index(model: pd.Series, seed_start: int) -> pd.Series:
    return model.str.extract(r"^heldout-(\d+)$")[0].astype(float) - seed_start


def _of_type(rows: pd.DataFrame, pair_type: str) -> pd.DataFrame:
    return rows[rows["pair_type"] == pair_type]


def variant_rows(variant: dict, barriers: pd.DataFrame, counts: list[int], seed_start: int,
                 bootstrap: dict | None = None) -> list[dict]:
    """The rows of one variant: {"variant", "axis", "value"} describe it; `barriers` is its barriers.csv;
    `bootstrap` ({"samples", "seed"}) sets the ratios' intervals."""
    rows = []
    stars = barriers[~barriers["pair_type"].isin([PAIRS["AH"], *MERGED_PAIRS])]
    keys = group_columns(barriers)
    metrics = [*METRICS, *(m for m in PATH_METRICS if m in barriers)]
    quality = endpoint_quality(barriers)
    for count in counts:
        keep = ~(_heldout_index(barriers["model2"], seed_start) >= count)  # pairs without a held-out stay
        ah = barriers[keep & (barriers["pair_type"] == PAIRS["AH"])]
        merged = barriers[keep & barriers["pair_type"].isin(MERGED_PAIRS)]
        for key, group in stars[keep[stars.index]].groupby(keys, dropna=False, sort=True):
            star_group = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
            k = star_group["n_anchors"]
            of_k = merged[pd.to_numeric(merged["n_anchors"]) == (float(k) if pd.notna(k) else np.nan)]
            sides = {short: _of_type(of_k if t in MERGED_PAIRS else group, t)
                     for short, t in {**PAIRS, **CONTROL_PAIRS}.items()} | {"AH": ah}
            models = quality_columns(sides, quality, first_anchors(barriers, k))
            for metric in metrics:
                row = {**variant, **star_group, "heldout_count": count, "metric": metric}
                for short in PAIRS:
                    row |= _stats(sides[short][metric], short)
                row["SH_over_AH"] = row["SH_mean"] / row["AH_mean"] if row["AH_mean"] else float("nan")
                for short in CONTROL_PAIRS:
                    row |= _stats(sides[short][metric], short)
                rows.append(row | interval_columns(sides, metric, bootstrap) | models)
    return rows


def paper_columns(table: pd.DataFrame, paper: list[dict]) -> pd.DataFrame:
    """`paper_SA`, `paper_SH`, `paper_AH`, `paper_SH_over_AH` where an entry of the config's `paper.values`
    matches the row: its `metric` and every column named in its `where` (all base-variant rows when it has none)."""
    table = table.copy()
    for column in ("paper_SA", "paper_SH", "paper_AH"):
        table[column] = float("nan")
    for entry in paper:
        where = entry.get("where") or {"axis": None}
        match = table["metric"] == entry.get("metric", METRICS[0])
        for column, value in where.items():
            match &= table[column].isna() if value is None else table[column].astype(str) == str(value)
        for short, pair_type in PAIRS.items():
            if pair_type in entry:
                table.loc[match, f"paper_{short}"] = entry[pair_type]
    table["paper_SH_over_AH"] = table["paper_SH"] / table["paper_AH"]
    return table


def _series_columns(table: pd.DataFrame) -> list[str]:
    """The columns that name a series of rows differing only in k."""
    return [c for c in table.columns if c in ("variant", "heldout_count", "metric") or c.startswith("star.")]


def k_trend(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with `ordered` (SA ≤ SH < AH on this row; a row without star-anchor pairs needs only SH < AH) and,
    on every row of a series over k, `SH_slope_log2k` (NaN for a series of one k) and `ordered_every_k`."""
    table = table.copy()
    sa_ok = (table["SA_n"] == 0) | (table["SA_mean"] <= table["SH_mean"])
    table["ordered"] = sa_ok & (table["SH_mean"] < table["AH_mean"])
    table["SH_slope_log2k"] = float("nan")
    table["ordered_every_k"] = False
    for _, series in table.groupby(_series_columns(table), dropna=False, sort=False):
        ks = series["n_anchors"].astype(float)
        if ks.nunique() > 1:
            table.loc[series.index, "SH_slope_log2k"] = np.polyfit(np.log2(ks), series["SH_mean"], 1)[0]
        table.loc[series.index, "ordered_every_k"] = bool(series["ordered"].all())
    return table


def sweep_table(variants: list[tuple[dict, pd.DataFrame, list[int], int]], paper: list[dict] | None = None,
                star_base: dict | None = None, bootstrap: dict | None = None) -> pd.DataFrame:
    """All variants' rows: `variants` holds (description, barriers, held-out counts, held-out seed_start).

    `star_base` gives the base value of each swept star setting: variants other than the base train their stars
    with the base settings, and `base_settings` marks the rows whose stars have them. `bootstrap` is
    {"samples": B, "seed": s} for the ratios' 95 % intervals (default 2000 resamples, seed 0)."""
    rows = [row for variant, barriers, counts, start in variants
            for row in variant_rows(variant, barriers, counts, start, bootstrap)]
    table = pd.DataFrame(rows)
    table["n_anchors"] = table["n_anchors"].astype("Int64")
    table["base_settings"] = True
    for column, value in (star_base or {}).items():
        table[column] = table[column].fillna(value) if column in table else value
        table["base_settings"] &= table[column].astype(str) == str(value)
    return k_trend(paper_columns(table, paper or []))


def markdown(table: pd.DataFrame) -> str:
    """The table with each pair type as `mean ± std (n)`, one Markdown row per table row, then the trend over k,
    the controls (where the experiment has them) and the models' quality."""
    settings = [c for c in table.columns if c in ("variant", "n_anchors", "heldout_count", "metric")
                or c.startswith("star.")]

    def cell(row, short):
        if not row[f"{short}_n"]:
            return "–"
        return f"{row[f'{short}_mean']:.4f} ± {0.0 if pd.isna(row[f'{short}_std']) else row[f'{short}_std']:.4f} " \
               f"({row[f'{short}_n']})"

    def paper(row, column):
        return "" if pd.isna(row[column]) else f"{row[column]:.3f}"

    header = [*settings, "SA", "SH", "AH", "SH/AH", "paper SH", "paper AH", "paper SH/AH"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in table.iterrows():
        cells = [str(row[c]) for c in settings] + [cell(row, s) for s in PAIRS] + [
            f"{row['SH_over_AH']:.3f}", paper(row, "paper_SH"), paper(row, "paper_AH"),
            paper(row, "paper_SH_over_AH")]
        lines.append("| " + " | ".join(cells) + " |")
    group = [c for c in settings if c not in ("heldout_count", "metric")]
    return "\n".join(lines) + "\n" + trend_markdown(table) + controls_markdown(table, settings) + \
        quality_markdown(table, group)


def trend_markdown(table: pd.DataFrame) -> str:
    """One row per series over k: its k values, SH at the smallest and the largest k, the slope of SH against
    log2 k, and whether SA ≤ SH < AH held at every k."""
    series_columns = _series_columns(table)
    header = [*series_columns, "k", "SH at smallest k", "SH at largest k", "SH slope per doubling of k",
              "SA ≤ SH < AH at every k"]
    lines = ["", "## Star–held-out barrier against k", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, series in table.groupby(series_columns, dropna=False, sort=False):
        series = series.sort_values("n_anchors")
        first, last = series.iloc[0], series.iloc[-1]
        slope = "–" if pd.isna(first["SH_slope_log2k"]) else f"{first['SH_slope_log2k']:+.4f}"
        cells = [str(first[c]) for c in series_columns] + [
            ", ".join(str(k) for k in series["n_anchors"]), f"{first['SH_mean']:.4f}", f"{last['SH_mean']:.4f}", slope,
            "yes" if first["ordered_every_k"] else "no"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
