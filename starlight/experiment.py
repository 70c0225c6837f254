"""What an experiment's config implies: its models, their seeds, its pairs, and checks the schema can't make."""

from __future__ import annotations

import random
from dataclasses import dataclass

from . import pretrained
from .data import data_settings, dataset_spec
from .models import check_model_config

PAIR_TYPES = ("star_heldout", "anchor_heldout", "star_anchor")


class ConfigError(ValueError):
    """A config value is inconsistent; the message names the key."""


@dataclass(frozen=True)
class Star:
    index: int
    n_anchors: int
    seed: int

    @property
    def id(self) -> str:
        return f"star-{self.index}"


def anchor_ids(exp: dict) -> list[str]:
    a = exp["anchors"]
    return [f"anchor-{a['seed_start'] + i}" for i in range(a["count"])]


def heldout_ids(exp: dict) -> list[str]:
    h = exp["heldout"]
    return [f"heldout-{h['seed_start'] + i}" for i in range(h["count"])]


def stars(exp: dict) -> list[Star]:
    s = exp["star"]
    ks = [k for k in s["n_anchors"] for _ in range(s["per_k"])]
    return [Star(i, k, s["seed_start"] + i) for i, k in enumerate(ks)]


def star(exp: dict, index: int) -> Star:
    all_stars = stars(exp)
    if not 0 <= index < len(all_stars):
        raise ConfigError(f"star index {index} out of range: the experiment has {len(all_stars)} stars")
    return all_stars[index]


def star_train_config(exp: dict) -> dict:
    """The experiment's train section with the star's overrides applied."""
    return {**exp["train"], **exp["star"].get("train", {})}


def all_pairs(exp: dict) -> dict[str, list[tuple[str, str]]]:
    """Every candidate pair of each type, model1 first (model2 is aligned onto model1)."""
    anchors, heldouts = anchor_ids(exp), heldout_ids(exp)
    return {
        "star_heldout": [(s.id, h) for s in stars(exp) for h in heldouts],
        "anchor_heldout": [(a, h) for a in anchors for h in heldouts],
        "star_anchor": [(s.id, a) for s in stars(exp) for a in anchors[: s.n_anchors]],
    }


def pairs(exp: dict) -> list[tuple[str, str, str]]:
    """(pair_type, model1, model2) to evaluate; with `max_pairs`, a seeded sample of each type."""
    caps, seed = exp["barrier"].get("max_pairs") or {}, exp["barrier"].get("pair_seed", 0)
    out = []
    for i, (pair_type, candidates) in enumerate(all_pairs(exp).items()):
        cap = caps.get(pair_type)
        if cap is not None and cap < len(candidates):
            rng = random.Random(seed * 31 + i)
            candidates = sorted(rng.sample(candidates, cap), key=candidates.index)
        out += [(pair_type, m1, m2) for m1, m2 in candidates]
    return out


def check(name: str, exp: dict, contents: bool = True) -> None:
    """Cross-field checks after schema validation; raise ConfigError naming the key.

    `contents=False` skips reading pretrained checkpoints to compare their contents (jobs re-check nothing
    the main process checked)."""
    where = f"experiments.{name}"
    n_anchors = exp["anchors"]["count"]
    for k in exp["star"]["n_anchors"]:
        if k > n_anchors:
            raise ConfigError(f"{where}.star.n_anchors: a star on {k} anchors needs {k} anchors, "
                              f"but anchors.count is {n_anchors}")
    ranges = {
        "anchors": range(exp["anchors"]["seed_start"], exp["anchors"]["seed_start"] + n_anchors),
        "heldout": range(exp["heldout"]["seed_start"], exp["heldout"]["seed_start"] + exp["heldout"]["count"]),
        "star": range(exp["star"]["seed_start"], exp["star"]["seed_start"] + len(stars(exp))),
    }
    names = list(ranges)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if set(ranges[a]) & set(ranges[b]):
                raise ConfigError(f"{where}: the seed ranges of {a} ({ranges[a].start}..{ranges[a].stop - 1}) and "
                                  f"{b} ({ranges[b].start}..{ranges[b].stop - 1}) overlap; seed_start must keep "
                                  f"them disjoint")
    try:
        pretrained.check(where, exp, contents)
    except pretrained.PretrainedError as err:
        raise ConfigError(str(err)) from None
    caps = exp["barrier"].get("max_pairs") or {}
    for pair_type, candidates in all_pairs(exp).items():
        if caps.get(pair_type, 0) > len(candidates):
            raise ConfigError(f"{where}.barrier.max_pairs.{pair_type}={caps[pair_type]} is more than the "
                              f"{len(candidates)} {pair_type} pairs that exist")
    spec = dataset_spec(exp["dataset"], exp["data"])
    try:
        check_model_config(exp["model"], spec.shape, spec.n_classes)
    except ValueError as exc:
        raise ConfigError(f"{where}.{exc}") from exc
    _check_subsets(where, exp)


def _check_subsets(where: str, exp: dict) -> None:
    """A subset must fit its split (and one batch fit the training subset)."""
    data, settings = exp["data"], data_settings(exp["dataset"], exp["data"])
    spec = settings.spec
    sizes = {"train_subset": spec.train_size and spec.train_size - settings.val_size, "test_subset": spec.test_size}
    for key, size in sizes.items():
        if data.get(key) is not None and size is not None and data[key] > size:
            split = key.split("_")[0]
            raise ConfigError(f"{where}.data.{key}={data[key]} is larger than the {split} split of "
                              f"{exp['dataset']} ({size} images{' after val_size' if split == 'train' else ''})")
    if data.get("train_subset") is not None and data["train_subset"] < exp["train"]["batch_size"]:
        raise ConfigError(f"{where}.data.train_subset={data['train_subset']} is smaller than one batch "
                          f"(train.batch_size={exp['train']['batch_size']})")
