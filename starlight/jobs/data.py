"""Steps `stage_data` and `prepare_data`: raw files from wherever they are, then one tensor file."""

from __future__ import annotations

import logging
import time

from ..checkpoint import save_torch
from ..data import dataset_from_stem
from ..phases import phase

log = logging.getLogger("starlight")


def stage_data(out_dir: str, name: str, data_root: str | None, allow_download: bool) -> None:
    """`name` is the prepared file's stem: the dataset's name, plus the synthetic dataset's settings."""
    with phase("load"):
        dataset_from_stem(name).stage(out_dir, data_root, allow_download)
    log.info("%s raw files staged in %s", name, out_dir)


def prepare_data(staged_dir: str, out: str, name: str) -> None:
    t0 = time.perf_counter()
    with phase("load"):
        raw = dataset_from_stem(name).read(staged_dir)
    save_torch(raw, out)
    log.info("%s: %d train and %d test images written to %s in %.1fs", name, len(raw["train_y"]),
             len(raw["test_y"]), out, time.perf_counter() - t0)
