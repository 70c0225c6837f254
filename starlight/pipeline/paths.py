"""The results layout: every path under `results/<exp>/`, in one place.

The rules build their inputs, outputs, logs and benchmarks from these functions, called with wildcard patterns
(`model("{exp}", "{role}-{seed}")` is `results/{exp}/models/{role}-{seed}.pt`); jobs get their paths from their
rule, or ask this module. An experiment's folder holds:

    models/<model>.pt, .json      finished models: anchors, held-out models, stars, controls, merged anchors
    state/<model>.pt              a training job's resumable state, deleted when its model is finished
    archive/<model>/<time>-<key>  every finished model, kept for recovery (pipeline/recovery.py)
    pairs/<pair_type>/<model1>__<model2>.curve.csv, .barriers.csv, .key   one pair's outputs
    pairs/<model1>.pairs.json     what one barrier job evaluated
    ensembles/<star>.csv          one star's ensembles
    barriers.csv, summary.csv, curves.csv, ensembles.csv, costs.csv   the experiment's tables
    figures/<name>.png, .svg      its figures
    logs/<rule>/<name>.log, benchmarks/<rule>/<name>.tsv   each job's log and Snakemake benchmark

A swept experiment's own folder (`results/<sweep>/`) holds the sweep's `table.csv`, `table.md`, `config.yaml` and
`figures/sweep/`; each of its variants has a folder of the layout above. With tracking on (docs/tracking.md), it also
holds `tracking/`: the W&B offline runs of the experiment and its variants (`wandb/`), their TensorBoard event files
(`tensorboard/[<variant>/]<run>/`) and what rule `publish` logged (`published.json`).
"""

from __future__ import annotations

from pathlib import Path

RESULTS = "results"
MODELS = "models"
ARCHIVE = "archive"
BENCHMARKS = "benchmarks"
LOGS = "logs"
# The experiment's tables, each <name>.csv in its folder.
TABLES = ("barriers", "summary", "curves", "ensembles", "costs")


def experiment(exp: str) -> str:
    return f"{RESULTS}/{exp}"


def model(exp: str, model_id: str, ext: str = "pt") -> str:
    """A finished model's checkpoint (`pt`) or metadata (`json`)."""
    return f"{experiment(exp)}/{MODELS}/{model_id}.{ext}"


def state(exp: str, model_id: str) -> str:
    """A training job's resumable state."""
    return f"{experiment(exp)}/state/{model_id}.pt"


def archive_of(checkpoint: str | Path) -> Path:
    """The archive folder of the model whose checkpoint is `checkpoint` (made by `model`): `archive/<model>/` in
    the folder that holds its `models/` folder."""
    checkpoint = Path(checkpoint)
    return checkpoint.parent.parent / ARCHIVE / checkpoint.stem


def pair_stem(exp: str, pair_type: str, model1: str, model2: str) -> str:
    """One pair's outputs are this stem plus `.curve.csv`, `.barriers.csv` and `.key`."""
    return f"{experiment(exp)}/pairs/{pair_type}/{model1}__{model2}"


def pair_file(exp: str, pair: tuple[str, str, str], kind: str) -> str:
    """One output of pair (pair_type, model1, model2): kind `curve` or `barriers`."""
    return f"{pair_stem(exp, *pair)}.{kind}.csv"


def batch(exp: str, model1: str) -> str:
    """What one barrier job writes besides its pairs' files: the list of its pairs and their keys."""
    return f"{experiment(exp)}/pairs/{model1}.pairs.json"


def ensemble(exp: str, star: str) -> str:
    return f"{experiment(exp)}/ensembles/{star}.csv"


def table(exp: str, name: str) -> str:
    if name not in TABLES:
        raise ValueError(f"unknown table {name!r}; the tables are {', '.join(TABLES)}")
    return f"{experiment(exp)}/{name}.csv"


def figure(exp: str, name: str, ext: str = "png") -> str:
    return f"{experiment(exp)}/figures/{name}.{ext}"


def sweep_file(sweep: str, name: str) -> str:
    """A sweep's own outputs: `table.csv`, `table.md`, `config.yaml`, and the folder `figures/sweep`."""
    return f"{experiment(sweep)}/{name}"


def log(exp: str, rule: str, name: str | None = None) -> str:
    """A job's log: per model or pair under `logs/<rule>/`, or `logs/<rule>.log` for a job of the whole
    experiment."""
    return f"{experiment(exp)}/{LOGS}/{rule}/{name}.log" if name else f"{experiment(exp)}/{LOGS}/{rule}.log"


def benchmark(exp: str, rule: str, name: str | None = None) -> str:
    """A job's Snakemake benchmark, laid out as its log."""
    folder = f"{experiment(exp)}/{BENCHMARKS}"
    return f"{folder}/{rule}/{name}.tsv" if name else f"{folder}/{rule}.tsv"


def tracking(exp: str) -> str:
    """Experiment tracking's folder, shared by an experiment and its variants: the experiment's own folder's."""
    return f"{experiment(exp.split('/')[0])}/tracking"


def tensorboard(exp: str, run: str) -> str:
    """The TensorBoard event files of one run (a model, or `published`) of `exp`, a variant's under its name."""
    return "/".join([tracking(exp), "tensorboard", *exp.split("/")[1:], run])


def published(sweep: str) -> str:
    """What rule `publish` logged of an experiment and its variants."""
    return f"{tracking(sweep)}/published.json"


def benchmarks(exp: str) -> str:
    return f"{experiment(exp)}/{BENCHMARKS}"


def logs(exp: str) -> str:
    return f"{experiment(exp)}/{LOGS}"
