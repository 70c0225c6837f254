"""Per-experiment tables: every pair's barriers, the long-format curves, and a summary per pair type."""

from __future__ import annotations

import pandas as pd

KEY_COLUMNS = ("experiment", "pair_type", "model1", "model2")
BARRIER_COLUMNS = ("train_loss_barrier", "test_loss_barrier", "train_acc_barrier", "test_acc_barrier")
# the path in absolute terms: its highest loss (lowest accuracy), and how far that lies beyond the worse endpoint
PATH_COLUMNS = tuple(f"{split}_path_{m}" for split in ("train", "test")
                     for m in ("max_loss", "excess_loss", "min_acc", "excess_acc"))
SUMMARY_COLUMNS = ("pair_type", "n_anchors", "metric", "n", "mean", "std", "min", "max")


def group_columns(df: pd.DataFrame) -> list[str]:
    """What a star group is: its k and the star settings the experiment sweeps (`star.<key>` columns)."""
    return ["n_anchors", *(c for c in df.columns if c.startswith("star."))]


def collect_barriers(experiment: str, barrier_csvs: list[str], star_columns: dict[str, dict] | None = None
                     ) -> pd.DataFrame:
    """Every pair's row; star pairs also get the swept settings of their star (`star_columns`, by star id)."""
    df = pd.concat([pd.read_csv(p) for p in barrier_csvs], ignore_index=True)
    df.insert(0, "experiment", experiment)
    df["n_anchors"] = df["n_anchors"].astype("Int64")
    settings = pd.DataFrame([star_columns.get(m, {}) for m in df["model1"]] if star_columns else [],
                            index=df.index if star_columns else None)
    df = pd.concat([df, settings], axis=1)
    first = [*KEY_COLUMNS, *BARRIER_COLUMNS, *group_columns(df)]
    last = [c for c in PATH_COLUMNS if c in df]  # the newest columns after all the older ones
    return df[first + [c for c in df.columns if c not in first and c not in last] + last]


def collect_curves(barriers: pd.DataFrame, curve_csvs: list[str]) -> pd.DataFrame:
    """Stack the per-pair curves; `curve_csvs` are in the row order of `barriers`."""
    frames = []
    for (_, row), path in zip(barriers.iterrows(), curve_csvs, strict=True):
        df = pd.read_csv(path)
        for i, col in enumerate((*KEY_COLUMNS, *group_columns(barriers))):
            df.insert(i, col, row[col])
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out["n_anchors"] = out["n_anchors"].astype("Int64")
    return out


def summarise(barriers: pd.DataFrame) -> pd.DataFrame:
    """n, mean, std, min, max of each barrier metric and each path metric (`PATH_COLUMNS`, where the barriers have
    them) per pair type and star group (k and swept settings); for star-anchor pairs also of the barriers in the
    star's training basis (`training_basis_*`)."""
    groups = ["pair_type", *group_columns(barriers)]
    every = [*BARRIER_COLUMNS, *(c for c in PATH_COLUMNS if c in barriers)]
    basis = [f"training_basis_{c}" for c in BARRIER_COLUMNS if f"training_basis_{c}" in barriers]
    long = barriers.melt(id_vars=groups, value_vars=[*every, *basis], var_name="metric")
    long = long[long["metric"].isin(every) | long["value"].notna()]
    stats = (long.groupby([*groups, "metric"], dropna=False, sort=True)["value"]
             .agg(n="count", mean="mean", std="std", min="min", max="max").reset_index())
    return stats[[*groups, *SUMMARY_COLUMNS[2:]]]
