"""Step `publish`: log a finished experiment and each of its variants, from their files, to the tracking backends
that are on (starlight/tracking), without retraining anything: tracking turned on after a run logs all of it. The
experiment's Snakemake HTML report is built first and logged with its result files."""

from __future__ import annotations

import glob
import json
import logging
from pathlib import Path

import pandas as pd
import yaml

from ..io.checkpoint import save_json
from ..io.phases import phase
from ..pipeline import paths
from ..pipeline.html_report import build_report
from ..tracking import Runs, epoch_metrics, settings

log = logging.getLogger("starlight")


def publish_job(run_config: dict, sweep: str, variants: list[str], out_json: str, out_report: str,
                snakefile: str | Path) -> None:
    """One run per variant (`sweep` itself first), named as it, in the group of the experiment: every model's
    per-epoch history and final metrics, every pair's curve, the tables, and the result files as an artifact;
    the experiment's own run also has `out_report`, the HTML report of the experiment that `snakefile` and
    `run_config` (the whole run's config, as resolved) describe. `out_json` records what was published."""
    tracking = run_config["tracking"]
    with phase("compute"):
        build_report(out_report, snakefile, run_config, targets=[out_json])
    with phase("load"):
        config = yaml.safe_load(Path(paths.sweep_file(sweep, "config.yaml")).read_text())
    published = [publish_variant(tracking, exp, sweep, config) for exp in variants]
    save_json({"experiment": sweep, "backends": settings.backends(tracking), "runs": published}, out_json)


def publish_variant(tracking: dict, exp: str, sweep: str, config: dict) -> dict:
    with phase("load"):
        metas = [json.loads(Path(p).read_text()) for p in sorted(glob.glob(paths.model(exp, "*", "json")))]
        curves = pd.read_csv(paths.table(exp, "curves"))
        tables = {name: pd.read_csv(paths.table(exp, name)) for name in ("barriers", "summary")}
    files = result_files(exp, sweep)
    runs = Runs(tracking, exp=exp, name=exp, job_type="publish", config={**config, "variant": exp},
                tensorboard_run="published")
    failed = True
    try:
        epochs = sorted({record["epoch"] for meta in metas for record in meta["history"]})
        for epoch in epochs:
            runs.log({key: value for meta in metas for record in meta["history"] if record["epoch"] == epoch
                      for key, value in epoch_metrics(record, f"{meta['model']}/").items()}, epoch)
        runs.summary({f"{meta['model']}/final/{key}": value for meta in metas for key, value in meta["final"].items()})
        runs.curves(curves)
        for name, frame in tables.items():
            runs.table(name, frame)
        runs.files(exp, "results", files)
        failed = False
    finally:
        runs.finish(failed)
    pairs = curves[["pair_type", "model1", "model2"]].drop_duplicates()
    log.info("%s: published %d models (%d epochs), %d pairs and %d files to %s", exp, len(metas), len(epochs),
             len(pairs), len(files), ", ".join(settings.backends(tracking)))
    return {"name": exp, "models": [meta["model"] for meta in metas], "epochs": len(epochs), "pairs": len(pairs),
            "files": sorted(files)}


def result_files(exp: str, sweep: str) -> dict[str, Path]:
    """The experiment's result files (tables, figures, the models' metadata; for the experiment itself also the
    sweep's table, its report `table.md`, its figures, its config and the HTML report), by their path in its
    folder."""
    patterns = [paths.table(exp, name) for name in paths.TABLES]
    patterns += [paths.figure(exp, "*", ext) for ext in ("png", "svg")] + [paths.model(exp, "*", "json")]
    if exp == sweep:
        patterns += [paths.sweep_file(sweep, name) for name in ("table.csv", "table.md", "config.yaml", "report.html")]
        patterns += [paths.sweep_file(sweep, "figures/sweep/*")]
    folder = Path(paths.experiment(exp))
    return {str(Path(p).relative_to(folder)): Path(p) for pattern in patterns for p in sorted(glob.glob(pattern))}
