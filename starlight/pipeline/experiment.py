"""What an experiment's config implies: its models, their seeds, its pairs, and checks the schema can't make."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass

from ..data import data_settings, dataset_spec
from ..models import check_model_config, model_input
from . import pretrained, sweep

PAIR_TYPES = ("star_heldout", "anchor_heldout", "star_anchor", "control_heldout", "merged_heldout", "merged_anchor")


class ConfigError(ValueError):
    """A config value is inconsistent; the message names the key."""


@dataclass(frozen=True)
class Star:
    """One star: its k, its replicate (which fixes its seed), and the star settings it overrides.

    Its id names it by exactly these, e.g. `star-k4-0` or `star-k4-t_scheme=beta-1`: extending a sweep never
    renames an existing star. Stars that differ only in their settings share their seed (a paired comparison:
    the same initialisation and the same draws of anchors and t)."""

    n_anchors: int
    replicate: int
    seed: int
    settings: tuple[tuple[str, object], ...] = ()

    @property
    def id(self) -> str:
        return "-".join(["star", f"k{self.n_anchors}", *(sweep.label(k, v) for k, v in self.settings),
                         str(self.replicate)])


def anchor_ids(exp: dict) -> list[str]:
    a = exp["anchors"]
    return [f"anchor-{a['seed_start'] + i}" for i in range(a["count"])]


def heldout_ids(exp: dict) -> list[str]:
    h = exp["heldout"]
    return [f"heldout-{h['seed_start'] + i}" for i in range(h["count"])]


def stars(exp: dict) -> list[Star]:
    """Every star of the experiment: each star setting (sweep.star_settings) × each k × `per_k` replicates, the
    setting's own k values and replicates where it gives them; a star two settings imply, once."""
    s, out = exp["star"], {}
    for settings in sweep.star_settings(exp):
        named = tuple(sorted(sweep.named(settings).items()))
        for k in settings.get("n_anchors", s["n_anchors"]):
            for rep in range(settings.get("per_k", s["per_k"])):
                star = Star(k, rep, s["seed_start"] + rep, named)
                out.setdefault(star.id, star)
    return list(out.values())


def star(exp: dict, star_id: str) -> Star:
    for candidate in stars(exp):
        if candidate.id == star_id:
            return candidate
    raise ConfigError(f"{star_id} is not a star of this experiment (its stars: "
                      f"{', '.join(s.id for s in stars(exp))})")


def star_section(exp: dict, star: Star | None = None) -> dict:
    """The star section as this star sees it: its settings applied, its own k and seed."""
    section = copy.deepcopy(exp["star"])
    if star is None:
        return section
    for key, value in star.settings:
        section = sweep.apply(section, key, value)
    return section | {"n_anchors": star.n_anchors, "seed": star.seed}


def star_columns(exp: dict) -> dict[str, dict]:
    """{star id: {"star.<key>": value}} for every star setting the experiment sweeps, base stars included (with
    the base value): the columns tables and figures group stars by. A star's control carries its star's."""
    keys = sorted({k for settings in sweep.star_settings(exp) for k in sweep.named(settings)})
    columns = {s.id: {f"star.{k}": sweep.get(star_section(exp, s), k) for k in keys} for s in stars(exp)}
    return columns | {control_id(s): settings for s, settings in columns.items()
                      if controls_section(exp)["quality_matched"]}


def base_star_columns(exp: dict) -> dict:
    """{"star.<key>": base value} of every star setting the experiment sweeps."""
    keys = sorted({k for settings in sweep.star_settings(exp) for k in sweep.named(settings)})
    return {f"star.{k}": sweep.get(exp["star"], k) for k in keys}


def star_train_config(exp: dict, star: Star | None = None) -> dict:
    """The experiment's train section with the star's overrides (and its own settings) applied."""
    return {**exp["train"], **star_section(exp, star).get("train", {})}


def controls_section(exp: dict) -> dict:
    """The experiment's `controls` section; an experiment built without the schema (no section) has none on."""
    return {"quality_matched": False, "merged": False, **exp.get("controls", {})}


def control_id(star_id: str) -> str:
    """The quality-matched control of a star: `control-k4-0` for `star-k4-0`, settings included."""
    return "control" + star_id.removeprefix("star")


def star_of_control(control: str) -> str:
    return "star" + control.removeprefix("control")


def control_seed(exp: dict, star: Star) -> int:
    """A control's seed: its own range (controls.seed_start + the star's replicate), so the controls of stars that
    differ only in k or settings share an initialisation, as those stars do."""
    return controls_section(exp)["seed_start"] + star.replicate


def controls(exp: dict) -> list[str]:
    """The ids of the experiment's quality-matched controls, one per star (none when they are off)."""
    return [control_id(s.id) for s in stars(exp)] if controls_section(exp)["quality_matched"] else []


def merged_id(k: int) -> str:
    """The merged model of the first k anchors: one per k, shared by every star of that k (they share anchors)."""
    return f"merged-k{k}"


def merged_ks(exp: dict) -> list[int]:
    """The k of every merged model (the stars' k values; none when merging is off)."""
    return list(dict.fromkeys(s.n_anchors for s in stars(exp))) if controls_section(exp)["merged"] else []


def n_anchors_of(exp: dict, model: str) -> int | None:
    """The k a star, its control or a merged model goes with; None for anchors and held-out models."""
    if model.startswith("star-"):
        return star(exp, model).n_anchors
    if model.startswith("control-"):
        return star(exp, star_of_control(model)).n_anchors
    if model.startswith("merged-k"):
        return int(model.removeprefix("merged-k"))
    return None


def all_pairs(exp: dict) -> dict[str, list[tuple[str, str]]]:
    """Every candidate pair of each type, model1 first (model2 is aligned onto model1)."""
    anchors, heldouts = anchor_ids(exp), heldout_ids(exp)
    return {
        "star_heldout": [(s.id, h) for s in stars(exp) for h in heldouts],
        "anchor_heldout": [(a, h) for a in anchors for h in heldouts],
        "star_anchor": [(s.id, a) for s in stars(exp) for a in anchors[: s.n_anchors]],
        "control_heldout": [(c, h) for c in controls(exp) for h in heldouts],
        "merged_heldout": [(merged_id(k), h) for k in merged_ks(exp) for h in heldouts],
        "merged_anchor": [(merged_id(k), a) for k in merged_ks(exp) for a in anchors[:k]],
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
    ks = exp["star"]["n_anchors"]
    if len(set(ks)) < len(ks):
        raise ConfigError(f"{where}.star.n_anchors: {ks} lists a k more than once")
    for star in stars(exp):
        if star.n_anchors > n_anchors:
            key = "star.n_anchors" if star.n_anchors in ks else "sweep.star"
            raise ConfigError(f"{where}.{key}: a star on {star.n_anchors} anchors needs {star.n_anchors} anchors, "
                              f"but anchors.count is {n_anchors}")
    per_k = 1 + max(s.replicate for s in stars(exp))
    ranges = {
        "anchors": range(exp["anchors"]["seed_start"], exp["anchors"]["seed_start"] + n_anchors),
        "heldout": range(exp["heldout"]["seed_start"], exp["heldout"]["seed_start"] + exp["heldout"]["count"]),
        "star": range(exp["star"]["seed_start"], exp["star"]["seed_start"] + per_k),
    }
    if controls_section(exp)["quality_matched"]:
        start = controls_section(exp)["seed_start"]
        ranges["controls"] = range(start, start + per_k)
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
        reads = model_input(exp["model"])
        if reads != spec.input:
            raise ConfigError(f"model.name={exp['model']['name']!r} reads {reads}, but dataset {exp['dataset']!r} "
                              f"holds {spec.input}; pick a model and a dataset of the same kind")
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
