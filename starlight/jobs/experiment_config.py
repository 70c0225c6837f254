"""Step `config_record`: the experiment's config as it ran, for the report."""

from __future__ import annotations

import logging
from pathlib import Path

import yaml

from ..io.checkpoint import atomic_write

log = logging.getLogger("starlight")


def experiment_config_job(experiment: str, exp: dict, out: str) -> None:
    """The experiment's config as it ran, every default filled in: part of the report."""
    text = yaml.safe_dump({"experiments": {experiment: exp}}, sort_keys=True)
    atomic_write(out, lambda tmp: Path(tmp).write_text(text))
    log.info("wrote %s", out)
