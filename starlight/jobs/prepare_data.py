"""Step `prepare_data`: a dataset's staged raw files read into one tensor file."""

from __future__ import annotations

import logging
import time

from ..data import dataset_from_stem
from ..io.checkpoint import save_torch
from ..io.phases import phase

log = logging.getLogger("starlight")


def prepare_data_job(staged_dir: str, out: str, name: str) -> None:
    t0 = time.perf_counter()
    with phase("load"):
        raw = dataset_from_stem(name).read(staged_dir)
    save_torch(raw, out)
    log.info("%s: %d train and %d test images written to %s in %.1fs", name, len(raw["train_y"]),
             len(raw["test_y"]), out, time.perf_counter() - t0)
