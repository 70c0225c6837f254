"""Sweeps: one config entry that expands into the settings the paper varies, one at a time.

An experiment's `sweep:` maps a setting to the list of values it takes. A setting is a dotted key
(`model.width`, `star.t_scheme`, `train.lr`) or a whole section (`model`), whose values are then partial
sections merged into the base one (`{depth: 22, widen_factor: 2}`: settings that vary together). Each axis
varies alone around the base config, as the paper does; a value equal to the base's is the base itself.
How an axis expands depends on what it changes:

- a star setting (`star.*`): more stars in the same experiment, trained on the same anchors and evaluated
  against the same held-out models: nothing is retrained, and extending the axis trains only the new stars;
- `heldout.count`: the largest count is trained, and each value's summary reads the first n held-out
  models: extending it trains only the new held-out models and their pairs;
- anything else (model, data, training): a variant with its own populations, in its own results folder
  `<experiment>/<key>=<value>`.

The number of anchors k of a star is the list `star.n_anchors`; every star setting is crossed with it, and with
`star.per_k` replicates. A value of a section-valued star axis (`star: [{...}]`) may give its own `n_anchors` and
`per_k`: which stars it has, not what they are. They name no star (a star's id holds its k and its replicate), so
`{n_anchors: [1, 5, 10], per_k: 1}` adds base stars at other k, `{t_scheme: beta, per_k: 3}` three beta stars per k,
and a star two settings both imply is trained once.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

STAR = "star"
NESTED = ("heldout.count",)
WHICH = ("n_anchors", "per_k")  # keys of a star axis's value that say which stars it has, not what they are
SAFE = re.compile(r"^[A-Za-z0-9_.+-]+$")


class SweepError(ValueError):
    """A sweep names an unknown setting or a value that cannot name a folder or a model."""


def value_text(value) -> str:
    """A value as it appears in folder and model names: `true`, `0.05`, `beta`, `depth=22,widen_factor=2`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return ",".join(f"{k}={value_text(v)}" for k, v in sorted(value.items()))
    return str(value)


def label(key: str, value) -> str:
    """`key=value` for a dotted key, the section's own `k=v,...` for a section-valued axis."""
    return value_text(value) if isinstance(value, dict) else f"{key}={value_text(value)}"


def get(cfg: dict, key: str):
    node = cfg
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def apply(cfg: dict, key: str, value) -> dict:
    """A copy of `cfg` with `key` set to `value` (merged into the section when both are sections)."""
    out = copy.deepcopy(cfg)
    *parents, last = key.split(".")
    node = out
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = {**node.get(last, {}), **value} if isinstance(value, dict) else value
    return out


def kind(key: str) -> str:
    """`star`, `nested` or `variant` (see the module doc)."""
    if key == STAR or key.startswith(STAR + "."):
        return "star"
    return "nested" if key in NESTED else "variant"


def check(where: str, exp: dict) -> None:
    """Every axis names a known setting and values that can name folders and models."""
    for key, values in (exp.get("sweep") or {}).items():
        which = key.startswith(STAR + ".") and key[len(STAR) + 1:] in WHICH
        if key.split(".")[0] not in exp or which:
            hint = (f" (the stars' k values are the list star.n_anchors; a `{STAR}` axis value may give its own "
                    f"n_anchors and per_k)") if which else ""
            raise SweepError(f"{where}.sweep.{key}: not a setting this sweep can vary{hint}")
        if not isinstance(values, list) or not values:
            raise SweepError(f"{where}.sweep.{key}: give a non-empty list of values")
        for value in values:
            if isinstance(value, dict) != isinstance(get(exp, key), dict):
                raise SweepError(f"{where}.sweep.{key}: {value!r} is a {'section' if isinstance(value, dict) else 'value'}"
                                 f" but {key} is {'a section' if isinstance(get(exp, key), dict) else 'a value'}")
            if key == STAR:
                _check_which(f"{where}.sweep.{key}", value)
                value = named(value)
            text = value_text(value).replace("=", "").replace(",", "")
            if text and not SAFE.match(text) or not text and value != {}:
                raise SweepError(f"{where}.sweep.{key}: value {value!r} has characters that cannot name a folder "
                                 f"or model (use letters, digits, _ . + -)")


def named(settings: dict) -> dict:
    """A star setting without the keys that say which stars it has (WHICH): what names its stars."""
    return {k: v for k, v in settings.items() if k not in WHICH}


def _positive(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _check_which(where: str, value: dict) -> None:
    """A star axis value's own n_anchors (distinct k >= 1) and per_k (>= 1), where it gives them."""
    ks = value.get("n_anchors", [1])
    if not isinstance(ks, list) or not ks or not all(map(_positive, ks)) or len(set(ks)) < len(ks):
        raise SweepError(f"{where}: n_anchors={ks!r}: give a list of distinct k values >= 1")
    if not _positive(value.get("per_k", 1)):
        raise SweepError(f"{where}: per_k={value['per_k']!r}: give an integer >= 1")


@dataclass(frozen=True)
class Variant:
    """One set of populations: the experiment itself, or one value of a model/data/training axis."""

    name: str  # its results folder under results/
    experiment: str
    axis: str | None  # the variant axis this is a value of (None: the base)
    value: object
    exp: dict  # its config; `sweep` holds only the axes that live inside it (star and nested ones)


def variants(name: str, exp: dict) -> list[Variant]:
    """The experiment's variants, the base first: one per value of each variant axis that differs from the base."""
    axes = exp.get("sweep") or {}
    inner = {k: v for k, v in axes.items() if kind(k) != "variant"}
    base = {**copy.deepcopy(exp), "sweep": inner}
    if "heldout.count" in inner:
        base["heldout"] = {**base["heldout"], "count": max([base["heldout"]["count"], *inner["heldout.count"]])}
    out = [Variant(name, name, None, None, base)]
    # a variant varies its own axis alone: its stars take the base star settings (nested axes still apply)
    nested = {k: v for k, v in inner.items() if kind(k) == "nested"}
    for key, values in axes.items():
        if kind(key) != "variant":
            continue
        for value in values:
            cfg = apply(base, key, value)
            if cfg != base:
                out.append(Variant(f"{name}/{label(key, value)}", name, key, value, {**cfg, "sweep": nested}))
    return out


def star_settings(exp: dict) -> list[dict]:
    """The star settings an experiment trains (each crossed with every k): the base `{}` first, then one per
    value of each star axis that differs from the base. Keys are relative to the star section; a setting's
    `n_anchors` and `per_k` (WHICH) say which stars it has."""
    out = [{}]
    for key, values in (exp.get("sweep") or {}).items():
        if kind(key) != "star":
            continue
        rel = key[len(STAR) + 1:]
        for value in values:
            if rel and get(exp[STAR], rel) == value or not rel and all(
                    get(exp[STAR], k) == v for k, v in value.items()):
                continue
            settings = {rel: value} if rel else {k: value[k] for k in sorted(value)}
            if settings not in out:
                out.append(settings)
    return out


def nested_counts(exp: dict) -> list[int]:
    """The held-out counts each summary row reads (the experiment's own count when there is no such axis)."""
    return sorted(set((exp.get("sweep") or {}).get("heldout.count", [exp["heldout"]["count"]])))
