"""The controls in the experiment's table (starlight/report/table.py): does the star beat models of its own quality?

A loss barrier subtracts the chord between the path's endpoints, so a worse endpoint lowers it: a star that is a
worse model than its anchors gets a smaller barrier for that alone. Two controls separate the two:

- the quality-matched control (CH, `control_heldout` pairs): an ordinary SGD model trained to the star's train loss
  (within 2 %), one per star, against each held-out model;
- the merged model (MH, `merged_heldout`; MA, `merged_anchor`): the star's k anchors merged by weight matching into
  one model, one per k, against each held-out model and each of the k anchors.

Each table row gets the ratios SH/AH, CH/AH, MH/AH, SH/CH and SH/MH with 95 % bootstrap intervals
(starlight/report/intervals.py) and two verdicts, `SH_lt_CH` and `SH_lt_MH`: "yes" when the interval of SH/CH (SH/MH)
lies below 1, "no" when above, "not resolved" otherwise. Each star group also gets its models' quality: the
train loss and test accuracy of its stars, controls and merged model beside the mean of its k anchors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .intervals import ratio, ratio_interval, verdict

CONTROL_PAIRS = {"CH": "control_heldout", "MH": "merged_heldout", "MA": "merged_anchor"}
MERGED_PAIRS = ("merged_heldout", "merged_anchor")  # one model per k: they belong to every star group of that k
RATIOS = {"SH_over_AH": ("SH", "AH"), "CH_over_AH": ("CH", "AH"), "MH_over_AH": ("MH", "AH"),
          "SH_over_CH": ("SH", "CH"), "SH_over_MH": ("SH", "MH")}
VERDICTS = {"SH_lt_CH": "SH_over_CH", "SH_lt_MH": "SH_over_MH"}
CLUSTERED = ("SH", "CH")  # one model per star: several stars in a group are resampled on two levels
MODELS = {"star": ("SH", "SA"), "control": ("CH",), "merged": ("MH", "MA")}  # where each model type is model1
QUALITY = ("train_loss", "test_acc")
BOOTSTRAP = {"samples": 2000, "seed": 0}
CONTROLS_NOTE = ("The barrier subtracts a chord that starts at the worse endpoint, so a worse star gets a smaller barrier "
                 "for that alone: CH is an ordinary SGD model trained to the star's train loss (within 2 %), MH the "
                 "star's k anchors merged by weight matching into one model. Ratios are of the means, with 95 % "
                 "bootstrap intervals over pairs (stars first where a group has several); \"yes\" when the interval "
                 "of SH/CH (SH/MH) lies below 1, \"no\" when above.")
QUALITY_NOTE = ("Each model's own train loss and test accuracy (mean over the group's models of that type) and, in "
                "parentheses, its ratio to the mean of the group's k anchors: a star whose train loss ratio is above 1 "
                "is a worse endpoint, which alone lowers its barriers.")


def interval_columns(sides: dict[str, pd.DataFrame], metric: str, bootstrap: dict | None = None) -> dict:
    """`<ratio>` (except SH_over_AH, which the table computes), `<ratio>_lo`, `<ratio>_hi` for each ratio and the
    verdicts, from the pairs of each side (`sides[short]`: the rows of that pair type in the row's group)."""
    settings = BOOTSTRAP | (bootstrap or {})
    out = {}
    for name, (top, bottom) in RATIOS.items():
        (num, num_models), (den, den_models) = _side(sides, top, metric), _side(sides, bottom, metric)
        value, low, high = ratio_interval(num, den, num_models, den_models, samples=int(settings["samples"]),
                                          seed=int(settings["seed"]))
        out |= ({} if name == "SH_over_AH" else {name: value}) | {f"{name}_lo": low, f"{name}_hi": high}
    return out | {name: verdict(out[f"{r}_lo"], out[f"{r}_hi"]) for name, r in VERDICTS.items()}


def _side(sides: dict[str, pd.DataFrame], short: str, metric: str) -> tuple[np.ndarray, np.ndarray | None]:
    rows = sides.get(short)
    if rows is None or metric not in rows:
        return np.empty(0), None
    rows = rows[rows[metric].notna()]
    return rows[metric].to_numpy(float), rows["model1"].to_numpy(str) if short in CLUSTERED else None


def endpoint_quality(barriers: pd.DataFrame) -> pd.DataFrame:
    """Each model's own train loss and test accuracy (columns `train_loss`, `test_acc`, index the model id), from
    whichever rows have it as model1 or model2; empty when the barriers have no endpoint columns."""
    frames = []
    for end in ("model1", "model2"):
        columns = {f"{end}_{q}": q for q in QUALITY}
        if set(columns) <= set(barriers.columns):
            frames.append(barriers[[end, *columns]].rename(columns={end: "model", **columns}))
    if not frames:
        return pd.DataFrame(columns=list(QUALITY), dtype=float)
    return pd.concat(frames).groupby("model")[list(QUALITY)].mean()


def first_anchors(barriers: pd.DataFrame, k) -> list[str]:
    """The k anchors with the smallest seeds among every anchor the variant's barriers name (a star on k anchors
    is trained on the first k)."""
    if pd.isna(k):
        return []
    names = pd.unique(pd.concat([barriers["model1"], barriers["model2"]]).astype(str))
    seeds = sorted(int(n.removeprefix("anchor-")) for n in names if n.startswith("anchor-")
                   and n.removeprefix("anchor-").isdigit())
    return [f"anchor-{s}" for s in seeds[:int(k)]]


def quality_columns(sides: dict[str, pd.DataFrame], quality: pd.DataFrame, anchors: list[str]) -> dict:
    """`<model>_train_loss`, `<model>_test_acc` (mean over the group's models of that type: stars, controls, the
    merged model; NaN where absent) and their ratios to the anchors' mean (`<model>_<quality>_ratio`), and
    `anchors_train_loss`, `anchors_test_acc` (mean over the group's k anchors)."""
    def mean(models) -> pd.Series:
        known = [m for m in models if m in quality.index]
        return quality.loc[known].mean() if known else pd.Series(np.nan, index=list(QUALITY))

    base = mean(anchors)
    out = {f"anchors_{q}": float(base[q]) for q in QUALITY}
    for model, shorts in MODELS.items():
        found = next((sides[s] for s in shorts if s in sides and len(sides[s])), None)
        values = mean([] if found is None else pd.unique(found["model1"].astype(str)))
        for q in QUALITY:
            out[f"{model}_{q}"] = float(values[q])
            out[f"{model}_{q}_ratio"] = ratio([values[q]], [base[q]]) if pd.notna(values[q]) else float("nan")
    return out


def _ratio_cell(row, name: str) -> str:
    value, low, high = row.get(name), row.get(f"{name}_lo"), row.get(f"{name}_hi")
    if value is None or pd.isna(value):
        return "–"
    return f"{value:.3f}" if pd.isna(low) else f"{value:.3f} [{low:.3f}, {high:.3f}]"


def _mean_cell(row, short: str) -> str:
    return "–" if not row.get(f"{short}_n") else f"{row[f'{short}_mean']:.4f}"


def _line(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def has_controls(table: pd.DataFrame) -> bool:
    return any(f"{s}_n" in table and (table[f"{s}_n"] > 0).any() for s in ("CH", "MH"))


def controls_markdown(table: pd.DataFrame, settings: list[str]) -> str:
    """The controls section of table.md; empty when no row has control or merged pairs. `settings` are the
    columns that name a row (variant, star group, held-out count, metric)."""
    if not has_controls(table):
        return ""
    header = [*settings, "SH", "CH", "MH", "AH", "SH/AH", "CH/AH", "MH/AH", "SH/CH", "SH/MH", "SH < CH", "SH < MH"]
    lines = ["", "## Controls: does the star beat an ordinary model of its quality?", "",
             CONTROLS_NOTE, "", _line(header), "|" + "---|" * len(header)]
    for _, row in table.iterrows():
        lines.append(_line([row[c] for c in settings] + [_mean_cell(row, s) for s in ("SH", "CH", "MH", "AH")]
                           + [_ratio_cell(row, r) for r in RATIOS] + [row["SH_lt_CH"], row["SH_lt_MH"]]))
    return "\n".join(lines) + "\n"


def quality_markdown(table: pd.DataFrame, group: list[str]) -> str:
    """The model quality section of table.md, one line per variant and star group (`group` names them); empty when
    the barriers had no endpoint columns. Control and merged columns only where the experiment has them."""
    if "star_train_loss" not in table or table["star_train_loss"].isna().all():
        return ""
    models = [m for m in MODELS if not table[f"{m}_train_loss"].isna().all()]
    header = [*group, *(f"{m} train loss" for m in models), "anchors train loss",
              *(f"{m} test acc" for m in models), "anchors test acc"]
    lines = ["", "## Model quality", "",
             QUALITY_NOTE, "", _line(header), "|" + "---|" * len(header)]

    def cell(row, model, q):
        value, rel = row[f"{model}_{q}"], row[f"{model}_{q}_ratio"]
        return "–" if pd.isna(value) else f"{value:.4f}" + ("" if pd.isna(rel) else f" (×{rel:.3f})")

    for _, row in table.drop_duplicates(group).iterrows():
        anchors = {q: "–" if pd.isna(row[f"anchors_{q}"]) else f"{row[f'anchors_{q}']:.4f}" for q in QUALITY}
        lines.append(_line([row[c] for c in group] + [cell(row, m, "train_loss") for m in models]
                           + [anchors["train_loss"]] + [cell(row, m, "test_acc") for m in models]
                           + [anchors["test_acc"]]))
    return "\n".join(lines) + "\n"
