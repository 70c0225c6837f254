"""Figures across an experiment's sweep, drawn from its table (starlight/report/table.py), one file per question:

- `barrier_vs_k`: star–held-out (solid) and star–anchor (dashed) barriers, mean ± std, against the number of
  anchors k, with the anchor–held-out mean ± std as a horizontal band;
- `star_<key>`: one star setting's values side by side (e.g. the t-scheme ablation), bars with error bars, at the
  largest k, the anchor–held-out band behind them;
- `variants_<axis>`: star–held-out against anchor–held-out barrier, one point per value of a model, data or
  training axis (e.g. the width sweep), with the identity line: below it, the star is better connected.

Every figure has one panel per metric (train and test loss barrier).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from .plots import save
from .table import METRICS


def _star_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c.startswith("star.")]


def _base(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of the base variant at the largest held-out count."""
    rows = table[table["axis"].isna()]
    return rows[rows["heldout_count"] == rows["heldout_count"].max()]


def _at_base_settings(rows: pd.DataFrame, free: str | None = None) -> pd.DataFrame:
    """Rows whose star settings take their base value, except setting `free` (one axis varies at a time, so the
    rows that vary `free` have every other setting at its base)."""
    if free is None:
        return rows[rows["base_settings"]]
    others = [c for c in _star_columns(rows) if c != free]
    return rows[rows[others].astype(str).eq(rows[rows["base_settings"]][others].astype(str).iloc[0]).all(axis=1)] \
        if others else rows


def _band(ax, rows: pd.DataFrame) -> None:
    mean, std = rows["AH_mean"].iloc[0], rows["AH_std"].fillna(0.0).iloc[0]
    ax.axhspan(mean - std, mean + std, color="grey", alpha=0.2, label="anchor–held-out (mean ± std)")
    ax.axhline(mean, color="grey", lw=1)


def _panels(title: str):
    fig, axes = plt.subplots(1, len(METRICS), figsize=(5.5 * len(METRICS), 4.2))
    fig.suptitle(title)
    return fig, axes


def barrier_vs_k(table: pd.DataFrame, out_dir: Path, title: str) -> list[Path]:
    base = _base(table)
    fig, axes = _panels(f"{title}: barriers against the number of anchors k")
    for ax, metric in zip(axes, METRICS):
        rows = base[base["metric"] == metric]
        settings = _star_columns(rows)
        for key, group in (rows.groupby(settings, dropna=False) if settings else [((), rows)]):
            group = group.sort_values("n_anchors")
            name = ", ".join(f"{c.removeprefix('star.')}={v}" for c, v in zip(settings, key if isinstance(
                key, tuple) else (key,)))
            line = ax.errorbar(group["n_anchors"], group["SH_mean"], group["SH_std"].fillna(0), marker="o",
                               capsize=3, label=f"star–held-out {name}".strip())
            ax.errorbar(group["n_anchors"], group["SA_mean"], group["SA_std"].fillna(0), marker="s", ls="--",
                        capsize=3, color=line[0].get_color(), alpha=0.7, label=f"star–anchor {name}".strip())
        _band(ax, rows)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("anchors k")
        ax.set_ylabel(metric.replace("_", " "))
        ax.legend(fontsize=7)
    return save(fig, out_dir, "barrier_vs_k")


def star_axis(table: pd.DataFrame, column: str, out_dir: Path, title: str) -> list[Path]:
    base = _base(table)
    base = _at_base_settings(base[base["n_anchors"] == base["n_anchors"].max()], free=column)
    fig, axes = _panels(f"{title}: {column.removeprefix('star.')} (k={int(base['n_anchors'].max())})")
    for ax, metric in zip(axes, METRICS):
        rows = base[base["metric"] == metric].sort_values(column, key=lambda s: s.astype(str))
        x = range(len(rows))
        ax.bar([i - 0.2 for i in x], rows["SH_mean"], 0.4, yerr=rows["SH_std"].fillna(0), capsize=3,
               label="star–held-out")
        ax.bar([i + 0.2 for i in x], rows["SA_mean"], 0.4, yerr=rows["SA_std"].fillna(0), capsize=3,
               label="star–anchor")
        _band(ax, rows)
        ax.set_xticks(list(x), rows[column].astype(str))
        ax.set_ylabel(metric.replace("_", " "))
        ax.legend(fontsize=7)
    return save(fig, out_dir, f"star_{column.removeprefix('star.')}")


def variant_axis(table: pd.DataFrame, axis: str, out_dir: Path, title: str, base_value: str = "") -> list[Path]:
    rows = table[(table["axis"] == axis) | table["axis"].isna()]
    rows = rows[rows["heldout_count"] == rows["heldout_count"].max()]
    rows = _at_base_settings(rows[rows["n_anchors"] == rows["n_anchors"].max()])
    fig, axes = _panels(f"{title}: star–held-out against anchor–held-out, one point per {axis}")
    for ax, metric in zip(axes, METRICS):
        points = rows[rows["metric"] == metric]
        ax.errorbar(points["AH_mean"], points["SH_mean"], points["SH_std"].fillna(0), points["AH_std"].fillna(0),
                    fmt="o", capsize=3)
        for _, p in points.iterrows():
            ax.annotate(f"{base_value} (base)" if pd.isna(p["axis"]) else str(p["value"]), (p["AH_mean"], p["SH_mean"]),
                        fontsize=7, xytext=(3, 3), textcoords="offset points")
        top = max(points["AH_mean"].max(), points["SH_mean"].max()) * 1.1
        ax.plot([0, top], [0, top], color="grey", ls=":", label="SH = AH")
        ax.set_xlabel(f"anchor–held-out {metric.replace('_', ' ')}")
        ax.set_ylabel(f"star–held-out {metric.replace('_', ' ')}")
        ax.legend(fontsize=7)
    return save(fig, out_dir, f"variants_{axis}")


def figures_to_draw(table: pd.DataFrame) -> list[tuple[str, str | None]]:
    """(kind, what) of each figure this table supports: k needs two k values, an axis two values."""
    out = []
    if _base(table)["n_anchors"].nunique() > 1:
        out.append(("k", None))
    out += [("star", c) for c in _star_columns(table) if _base(table)[c].nunique() > 1]
    out += [("variant", a) for a in table["axis"].dropna().unique()]
    return out


def plot_sweep(table: pd.DataFrame, out_dir: Path, title: str, axis_base: dict | None = None) -> list[Path]:
    """Every figure the table supports; `axis_base` gives each variant axis's base value (for labels)."""
    paths = []
    for kind, what in figures_to_draw(table):
        if kind == "k":
            paths += barrier_vs_k(table, out_dir, title)
        elif kind == "star":
            paths += star_axis(table, what, out_dir, title)
        else:
            paths += variant_axis(table, what, out_dir, title, (axis_base or {}).get(what, ""))
    return paths
