"""Figures: mean ± std curves along the path, and the per-pair barrier distributions."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from .aggregate import BARRIER_COLUMNS

LABELS = {"star_heldout": "star–held-out", "anchor_heldout": "anchor–held-out", "star_anchor": "star–anchor"}


def group_label(pair_type: str, n_anchors) -> str:
    label = LABELS.get(pair_type, pair_type)
    return label if pd.isna(n_anchors) else f"{label} (k={int(n_anchors)})"


def _save(fig, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.{ext}" for ext in ("png", "svg")]
    for p in paths:
        fig.savefig(p, dpi=150, bbox_inches="tight", metadata={"Date": None} if p.suffix == ".svg" else None)
    plt.close(fig)
    return paths


def plot_curves(curves: pd.DataFrame, out_dir: Path, title: str = "") -> list[Path]:
    """Loss and accuracy against t (train and test), aligned paths, mean ± std per pair group."""
    df = curves[curves["aligned"]] if curves["aligned"].any() else curves
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    for (pair_type, k), grp in df.groupby(["pair_type", "n_anchors"], dropna=False, sort=True):
        label = group_label(pair_type, k)
        for col, split in enumerate(("train", "test")):
            for row, metric in enumerate(("loss", "accuracy")):
                stats = grp[grp["split"] == split].groupby("t")[metric].agg(["mean", "std"]).fillna(0.0)
                ax = axes[row, col]
                line, = ax.plot(stats.index, stats["mean"], marker="o", ms=3, label=label)
                ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"],
                                color=line.get_color(), alpha=0.2)
                ax.set_title(f"{split} {metric}")
                ax.set_xlabel("t")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title or "Loss and accuracy along the linear path (aligned, mean ± std)")
    return _save(fig, out_dir, "curves")


def plot_barriers(barriers: pd.DataFrame, out_dir: Path, title: str = "") -> list[Path]:
    """One panel per barrier metric: every pair as a dot, grouped by pair type (and star k)."""
    groups = [(g, group_label(*g)) for g in
              sorted(barriers.groupby(["pair_type", "n_anchors"], dropna=False).groups, key=str)]
    fig, axes = plt.subplots(1, len(BARRIER_COLUMNS), figsize=(4 * len(BARRIER_COLUMNS), 4.5))
    for ax, metric in zip(axes, BARRIER_COLUMNS):
        data = []
        for (pair_type, k), _ in groups:
            mask = barriers["pair_type"] == pair_type
            mask &= barriers["n_anchors"].isna() if pd.isna(k) else barriers["n_anchors"] == k
            data.append(barriers.loc[mask, metric].to_numpy())
        ax.boxplot(data, showfliers=False)
        for i, values in enumerate(data, start=1):
            ax.scatter([i] * len(values), values, s=12, alpha=0.7, zorder=3)
        ax.set_xticks(range(1, len(groups) + 1), [label for _, label in groups], rotation=30, ha="right", fontsize=8)
        ax.set_title(metric.replace("_", " "))
    fig.suptitle(title or "Barriers per pair type")
    fig.tight_layout()
    return _save(fig, out_dir, "barriers")
