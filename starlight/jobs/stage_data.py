"""Step `stage_data`: a dataset's raw files, from wherever they are, into `resources/`."""

from __future__ import annotations

import logging

from ..data import dataset_from_stem
from ..io.phases import phase

log = logging.getLogger("starlight")


def stage_data_job(out_dir: str, name: str, data_root: str | None, allow_download: bool) -> None:
    """`name` is the prepared file's stem: the dataset's name, plus the synthetic dataset's settings."""
    with phase("load"):
        dataset_from_stem(name).stage(out_dir, data_root, allow_download)
    log.info("%s raw files staged in %s", name, out_dir)
