"""What each pipeline step's outputs depend on: the `params` Snakemake compares to decide whether to rerun a job.

A step's params hold exactly what can change its outputs, and its code fingerprint (starlight.pipeline.code): editing
anything else reruns nothing. Settings that change how a job runs but not what it writes (how often training
state is saved) are run options, passed outside the params. Keys are sorted, so the same config written in
another key order reruns nothing either.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ..data import dataset_spec
from ..models import model_config, uses_batchnorm
from ..training.optim import optimizer_settings
from . import experiment as xp
from . import pretrained
from .code import fingerprint

# Keys of an experiment's `train` section that change how a job runs, not its outputs.
RUN_OPTIONS = ("checkpoint_every",)
# Keys of the `barrier` section that choose which pairs exist, not what any pair's outputs are.
PAIR_CHOICE = ("max_pairs", "pair_seed")


def canonical(value):
    """Params with keys in sorted order: Snakemake compares params by their text."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def code(step: str, exp: dict | None, scripts: str | Path) -> str:
    """Fingerprint of the package code step `step` runs for `exp` (`starlight/jobs/<step>.py` and what it
    imports), and of its workflow script `<scripts>/<step>.py`. The workflow passes its scripts folder."""
    return fingerprint(step, exp, [Path(scripts) / f"{step}.py"])


def _freeze(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


@cache
def _has_bn(model: tuple, shape: tuple[int, ...], n_classes: int) -> bool:
    return uses_batchnorm(dict(model), shape, n_classes)


def has_bn(exp: dict) -> bool:
    """Whether the experiment's model has BatchNorm (then BN re-estimation settings shape its results)."""
    spec = dataset_spec(exp["dataset"], exp["data"])  # the synthetic dataset's shape is in the config
    return _has_bn(_freeze(exp["model"]), spec.shape, spec.n_classes)


def bn_settings(exp: dict) -> dict:
    """The BN re-estimation settings (`bn`: subset, seed), for a model that has BN; nothing for one that has none."""
    return {k: exp["bn"][k] for k in ("subset", "seed")} if has_bn(exp) else {}


def alignment_settings(exp: dict) -> dict:
    """The alignment settings (`alignment`: method, seed), for a step that aligns models."""
    return {k: exp["alignment"][k] for k in ("method", "seed")}


def _train_section(train: dict) -> dict:
    return {k: v for k, v in optimizer_settings(train).items() if k not in RUN_OPTIONS}


def _model_params(exp: dict, train: dict) -> dict:
    keys = ("dataset", "device", "deterministic", "data")
    return {k: exp[k] for k in keys} | {"model": model_config(exp["model"]), "train": _train_section(train),
                                        "bn": bn_settings(exp)}


def train_params(exp: dict, role: str, seed: int, scripts: str | Path) -> dict:
    """An anchor or held-out model: its data, model, training and (for BN models) BN settings."""
    out = _model_params(exp, exp["train"]) | {"pretrained": pretrained.file_of(exp, role, seed)}
    return canonical(out | {"code": code("train", exp, scripts)})


def star_params(exp: dict, star_id: str, scripts: str | Path) -> dict:
    """One star: its own k, seed and settings (not the list of stars, nor the sweep), its training, and the
    alignment when it re-aligns its anchors."""
    star = xp.star(exp, star_id)
    section = xp.star_section(exp, star)
    out = _model_params(exp, xp.star_train_config(exp, star))
    out["star"] = {k: v for k, v in section.items() if k not in ("per_k", "seed_start", "train")}
    if section["realign_every_epoch"] or section.get("realign_before_training"):
        out["alignment"] = alignment_settings(exp)
    return canonical(out | {"code": code("train_star", exp, scripts)})


def _eval_settings(exp: dict) -> dict:
    """The `barrier` keys that choose the training images a train loss is measured on."""
    return {k: exp["barrier"][k] for k in ("train_eval_subset", "train_eval_seed") if k in exp["barrier"]}


def control_params(exp: dict, control: str, scripts: str | Path) -> dict:
    """A star's quality-matched control: the anchors' data, model and training, its own seed, the search's
    tolerance and limit, and the evaluation set its train loss is matched on. Its star is an input."""
    star = xp.star(exp, xp.star_of_control(control))
    out = _model_params(exp, exp["train"])
    out["barrier"] = _eval_settings(exp)
    out |= {"seed": xp.control_seed(exp, star),
            "controls": {k: exp["controls"][k] for k in ("tolerance", "max_trainings")}}
    return canonical(out | {"code": code("train_control", exp, scripts)})


def merge_params(exp: dict, scripts: str | Path) -> dict:
    """The merged anchors: data, model, the alignment and its rounds, BN settings. The anchors are inputs."""
    out = {k: exp[k] for k in ("dataset", "device", "deterministic", "data")} | {"model": model_config(exp["model"])}
    out |= {"alignment": alignment_settings(exp), "bn": bn_settings(exp),
            "controls": {"merge_rounds": exp["controls"]["merge_rounds"]}}
    return canonical(out | {"code": code("merge_anchors", exp, scripts)})


def barrier_params(exp: dict, model1: str, scripts: str | Path) -> dict:
    """One pair: the evaluation data, the grid, the alignment (when pairs are aligned) and (for BN models) BN
    settings."""
    barrier = {k: v for k, v in exp["barrier"].items() if k not in PAIR_CHOICE}
    n_anchors = xp.n_anchors_of(exp, model1)
    out = {k: exp[k] for k in ("dataset", "device", "deterministic", "data")} | {"model": model_config(exp["model"])}
    out |= {"barrier": barrier, "bn": bn_settings(exp), "n_anchors": n_anchors}
    if barrier["align"]:
        out["alignment"] = alignment_settings(exp)
    return canonical(out | {"code": code("barrier", exp, scripts)})


def ensemble_params(exp: dict, scripts: str | Path) -> dict:
    """A star's ensembles: the evaluation data, the star's anchors' alignment and (for BN models) BN settings, the
    number of sampled models and their seed. The star and its anchors are inputs."""
    out = {k: exp[k] for k in ("dataset", "device", "deterministic", "data")} | {"model": model_config(exp["model"])}
    out |= {"alignment": alignment_settings(exp), "bn": bn_settings(exp),
            "ensembles": {k: exp["ensembles"][k] for k in ("samples", "seed")}}
    return canonical(out | {"code": code("ensemble", exp, scripts)})


def run_options(config: dict, variant: str, step: str) -> dict:
    """How a training job of `variant` (an experiment, or `<experiment>/<sweep value>`) runs, not what it writes:
    how often it saves its resumable state. Read from the workflow config, outside the params."""
    exp = config["experiments"][variant.split("/")[0]]
    train = xp.star_train_config(exp) if step == "train_star" else exp["train"]
    return {k: train[k] for k in RUN_OPTIONS}
