"""Figures of one experiment: mean ± std curves along the path, the loss along the path in absolute terms beside
each model's own loss, and the per-pair barrier distributions."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from .aggregate import BARRIER_COLUMNS, group_columns

LABELS = {"star_heldout": "star–held-out", "anchor_heldout": "anchor–held-out", "star_anchor": "star–anchor",
          "control_heldout": "control–held-out", "merged_heldout": "merged–held-out", "merged_anchor": "merged–anchor"}
# the paths of `plot_path_loss`, each type in its colour, and the models' own loss: (model, pair type, t, colour)
PATHS = {"star_heldout": "C0", "control_heldout": "C1", "merged_heldout": "C2", "anchor_heldout": "C7"}
LEVELS = (("star", "star_heldout", 0.0, "C0"), ("control", "control_heldout", 0.0, "C1"),
          ("merged", "merged_heldout", 0.0, "C2"), ("anchors", "anchor_heldout", 0.0, "C7"),
          ("held-out models", "anchor_heldout", 1.0, "C4"))


def group_label(pair_type: str, group: dict) -> str:
    """`star–held-out (k=4, t_scheme=beta)`; anchor–held-out pairs have no star group."""
    parts = [f"{'k' if c == 'n_anchors' else c.removeprefix('star.')}={int(v) if c == 'n_anchors' else v}"
             for c, v in group.items() if not pd.isna(v)]
    label = LABELS.get(pair_type, pair_type)
    return f"{label} ({', '.join(parts)})" if parts else label


def groups(df: pd.DataFrame):
    """(label, rows) for each pair type and star group, in a stable order."""
    keys = ["pair_type", *group_columns(df)]
    for key, rows in df.groupby(keys, dropna=False, sort=True):
        yield group_label(key[0], dict(zip(keys[1:], key[1:]))), rows


def save(fig, out_dir: Path, stem: str) -> list[Path]:
    """PNG and SVG (without a date, so identical figures are identical files)."""
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
    for label, grp in groups(df):
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
    return save(fig, out_dir, "curves")


def _base_stars(curves: pd.DataFrame) -> pd.DataFrame:
    """The curves without stars (and their controls) of swept settings: a star of the base settings names none in
    its id (`star-k4-0`, not `star-k4-t_scheme=beta-0`). All curves when no star has the base settings."""
    swept = curves["pair_type"].isin(["star_heldout", "control_heldout"]) & curves["model1"].str.contains("=")
    return curves[~swept] if (~swept & (curves["pair_type"] == "star_heldout")).any() else curves


def plot_path_loss(curves: pd.DataFrame, out_dir: Path, title: str = "") -> list[Path]:
    """Train and test loss L(t) in absolute terms (aligned paths), one column per k: mean ± std over the pairs of
    each of star–, control–, merged– and anchor–held-out, with each model type's own loss as a dashed line (star,
    control, merged and anchors: L(0) of their pairs; held-out models: L(1) of anchor–held-out pairs). Stars of the
    base settings only. Pair types the experiment lacks are left out."""
    df = _base_stars(curves[curves["aligned"]] if curves["aligned"].any() else curves)
    df = df[df["pair_type"].isin(PATHS)]
    ks = sorted(df.loc[df["pair_type"] != "anchor_heldout", "n_anchors"].dropna().astype(int).unique()) or [None]
    fig, axes = plt.subplots(2, len(ks), figsize=(4.2 * len(ks) + 1, 7), sharex=True, sharey="row", squeeze=False)
    handles = {}
    for col, k in enumerate(ks):
        of_k = df[(df["pair_type"] == "anchor_heldout") | (df["n_anchors"].astype(float) == (k or float("nan")))]
        for row, split in enumerate(("train", "test")):
            ax, rows = axes[row, col], of_k[of_k["split"] == split]
            for pair_type, colour in PATHS.items():
                stats = rows[rows["pair_type"] == pair_type].groupby("t")["loss"].agg(["mean", "std"]).fillna(0.0)
                if len(stats):
                    handles[LABELS[pair_type]], = ax.plot(stats.index, stats["mean"], color=colour, marker="o", ms=3)
                    ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"],
                                    color=colour, alpha=0.2)
            for model, pair_type, t, colour in LEVELS:
                ends = rows[(rows["pair_type"] == pair_type) & (rows["t"] == t)]["loss"]
                if len(ends):
                    handles[f"{model} (own loss)"] = ax.axhline(ends.mean(), color=colour, ls="--", lw=1)
            ax.set_title(f"{split} loss" + ("" if k is None else f", k={k}"))
    for ax in axes[1]:
        ax.set_xlabel("t")
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(len(handles), 5), fontsize=8,
               bbox_to_anchor=(0.5, -0.06))
    fig.suptitle(title or "Loss along the linear path in absolute terms (aligned, mean ± std)")
    fig.tight_layout()
    return save(fig, out_dir, "path_loss")


def plot_barriers(barriers: pd.DataFrame, out_dir: Path, title: str = "") -> list[Path]:
    """One panel per barrier metric: every pair as a dot, grouped by pair type and star group."""
    grouped = list(groups(barriers))
    fig, axes = plt.subplots(1, len(BARRIER_COLUMNS), figsize=(4 * len(BARRIER_COLUMNS), 4.5))
    for ax, metric in zip(axes, BARRIER_COLUMNS):
        data = [rows[metric].to_numpy() for _, rows in grouped]
        ax.boxplot(data, showfliers=False)
        for i, values in enumerate(data, start=1):
            ax.scatter([i] * len(values), values, s=12, alpha=0.7, zorder=3)
        ax.set_xticks(range(1, len(grouped) + 1), [label for label, _ in grouped], rotation=30, ha="right",
                      fontsize=8)
        ax.set_title(metric.replace("_", " "))
    fig.suptitle(title or "Barriers per pair type")
    fig.tight_layout()
    return save(fig, out_dir, "barriers")


def plot_ensembles(table: pd.DataFrame, out_dir: Path, title: str = "") -> list[Path]:
    """Test accuracy and NLL of each method, one group of bars per star (anchors: mean ± std over the anchors)."""
    methods = ["star", "anchor", "anchors_ensemble", "star_and_anchors_ensemble", "segment_ensemble"]
    stars = list(dict.fromkeys(table["star"]))
    fig, axes = plt.subplots(1, 2, figsize=(max(8.0, 1.6 * len(stars) + 4), 4.2))
    width = 0.8 / len(methods)
    for ax, metric in zip(axes, ("test_acc", "test_nll")):
        for j, method in enumerate(methods):
            rows = table[table["method"] == method].groupby("star", sort=False)[metric]
            mean, std = rows.mean().reindex(stars), rows.std().reindex(stars).fillna(0.0)
            ax.bar([i + (j - 2) * width for i in range(len(stars))], mean, width, yerr=std, capsize=2,
                   label=method.replace("_", " "))
        ax.set_xticks(range(len(stars)), stars, rotation=30, ha="right", fontsize=7)
        ax.set_title(metric.replace("_", " "))
        values = table[metric]
        ax.set_ylim(values.min() - 0.1 * (values.max() - values.min() + 1e-3), None)
    axes[0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, out_dir, "ensembles")
