"""Step `train`: one anchor or held-out model, trained from its seed or imported from a pretrained folder."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ..io.checkpoint import load_into
from ..measure.bn import recompute_bn_stats
from ..models import has_batchnorm
from ..pipeline import recovery
from ..pipeline.job import bn_data, code_record, epoch_reporter, model_factory, setup, splits_of, write_model
from ..pipeline.runtime import provenance, seed_everything
from ..training.loop import train_classifier

log = logging.getLogger("starlight")


def train_job(dataset_file: str, exp: dict, role: str, seed: int, out_ckpt: str, out_json: str,
              state_path: str | None = None, threads: int = 1, checkpoint_every: int = 1,
              on_epoch: Callable[[dict], None] | None = None) -> None:
    """Train one anchor or held-out model from its seed, or import it from `exp["pretrained"]`. `on_epoch`, when
    given, receives each trained epoch's record with its validation metrics (experiment tracking, `epoch_reporter`).

    A model with BN leaves with its statistics re-estimated on the BN subset, trained or imported: the
    statistics the barriers use at its end of every curve, so its metrics here are those endpoints'."""
    t0 = time.perf_counter()
    pretrained = exp.get("pretrained")
    job_key = recovery.key(exp, [pretrained] if pretrained else [])
    if recovery.restore(out_ckpt, out_json, job_key):
        return
    device = setup(exp, threads)
    splits = splits_of(exp, dataset_file, device)
    seed_everything(seed)
    model = model_factory(exp)().to(device)
    name = f"{role}-{seed}"
    if pretrained:
        load_into(model, pretrained, exp["model"])
        log.info("%s: imported from %s", name, pretrained)
        history = []
    else:
        history = train_classifier(name, model, splits.train, exp["train"], seed, state_path, job_key,
                                   checkpoint_every, on_record=epoch_reporter(on_epoch, model, splits,
                                                                               int(exp["train"]["batch_size"])))
    if has_batchnorm(model):
        recompute_bn_stats(model, bn_data(exp, splits))
    meta = {"model": name, "role": role, "seed": seed, "config": {k: exp[k] for k in ("data", "model", "train")},
            "pretrained": pretrained, "epochs": 0 if pretrained else exp["train"]["epochs"], "history": history,
            **provenance(device), **code_record("train", exp)}
    write_model(model, exp, splits, meta, out_ckpt, out_json, t0, state_path, job_key)
