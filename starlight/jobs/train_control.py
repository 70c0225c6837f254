"""Step `train_control`: a star's quality-matched control, an ordinary model trained to the star's train loss."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ..io.checkpoint import load_into, load_torch, save_torch
from ..measure.bn import recompute_bn_stats
from ..measure.metrics import evaluate
from ..models import has_batchnorm
from ..pipeline import recovery
from ..pipeline.job import bn_data, code_record, model_factory, setup, splits_of, train_eval_data, write_model
from ..pipeline.runtime import provenance, seed_everything
from ..training.control import Probe, search_budget
from ..training.loop import train_classifier

log = logging.getLogger("starlight")


def train_control_job(dataset_file: str, exp: dict, name: str, star_ckpt: str, out_ckpt: str, out_json: str,
                      state_path: str | None = None, threads: int = 1) -> None:
    """Train `name`, the control of the star in `star_ckpt`: the anchors' objective and protocol (`exp["train"]`)
    from seed `exp["seed"]`, on the step budget whose train loss, on the barriers' evaluation set, lies within
    `exp["controls"]["tolerance"]` of the star's (starlight/training/control.py).

    Each finished training of the search is recorded in `state_path` (its budget, its loss, and the closest model
    so far), so a killed job resumes the search instead of starting it again."""
    t0 = time.perf_counter()
    job_key = recovery.key(exp, [star_ckpt])
    if recovery.restore(out_ckpt, out_json, job_key):
        return
    device = setup(exp, threads)
    splits = splits_of(exp, dataset_file, device)
    new_model = model_factory(exp)
    eval_set = train_eval_data(exp, splits)
    target = evaluate(load_into(new_model(), star_ckpt, exp["model"]).to(device), eval_set)[0]
    cfg, controls, seed = exp["train"], exp["controls"], exp["seed"]
    full = int(cfg["epochs"]) * splits.train.steps_per_epoch(int(cfg["batch_size"]))
    search = _load_search(state_path, job_key)
    log.info("%s: target train loss %.4f (the star's), tolerance %.1f %%, full budget %d steps", name, target,
             100 * controls["tolerance"], full)

    def train_to(steps: int) -> float:
        seed_everything(seed)
        model = new_model().to(device)
        history = train_classifier(f"{name} [{steps} steps]", model, splits.train, cfg, seed, steps=steps)
        if has_batchnorm(model):
            recompute_bn_stats(model, bn_data(exp, splits))
        loss = evaluate(model, eval_set)[0]
        log.info("%s: %d steps (%.2f epochs) -> train loss %.4f (%+.1f %% of the star's)", name, steps,
                 steps * cfg["epochs"] / full, loss, 100 * (loss / target - 1))
        best = search.get("best")
        if best is None or abs(loss - target) < abs(best["loss"] - target):
            search["best"] = {"steps": steps, "loss": loss, "state": model.state_dict(), "history": history}
        search["probes"].append({"steps": steps, "loss": loss})
        if state_path:
            save_torch(search, state_path)
        return loss

    done = [Probe(p["steps"], p["loss"]) for p in search["probes"]]
    chosen, probes = search_budget(train_to, target, full, controls["tolerance"], controls["max_trainings"], done)
    best = search["best"]
    if best["steps"] != chosen.steps:  # cannot happen: the chosen probe is the closest one
        raise RuntimeError(f"{name}: kept the model of {best['steps']} steps, chose {chosen.steps}")
    model = new_model().to(device)
    model.load_state_dict(best["state"])
    matched = abs(chosen.loss - target) <= controls["tolerance"] * target
    if not matched:
        log.warning("%s: no budget within %.1f %% of the star's train loss %.4f after %d trainings; kept the closest, "
                    "%d steps with %.4f", name, 100 * controls["tolerance"], target, len(probes), chosen.steps,
                    chosen.loss)
    meta = {"model": name, "role": "control", "seed": seed, "star": Path(star_ckpt).stem,
            "config": {k: exp[k] for k in ("data", "model", "train", "controls")},
            "target_train_loss": target, "train_loss": chosen.loss, "relative_gap": chosen.loss / target - 1,
            "matched": matched, "steps": chosen.steps, "full_steps": full,
            "epochs": chosen.steps * cfg["epochs"] / full, "search": [vars(p) for p in probes],
            "history": best["history"], **provenance(device), **code_record("train_control", exp)}
    write_model(model, exp, splits, meta, out_ckpt, out_json, t0, state_path, job_key)


def _load_search(state_path: str | None, tag: str) -> dict:
    """The search recorded by an earlier run of the same job (same config, same star), else a new one."""
    empty = {"tag": tag, "probes": [], "best": None}
    if not state_path or not Path(state_path).exists():
        return empty
    try:
        saved = load_torch(state_path)
    except Exception as err:  # noqa: BLE001 - any unreadable state means starting afresh
        log.warning("ignoring unreadable search state %s (%s)", state_path, err)
        return empty
    if not isinstance(saved, dict) or saved.get("tag") != tag:
        log.warning("ignoring search state %s: it was saved under another config or star", state_path)
        return empty
    log.info("resuming the search from %s: %d trainings done", state_path, len(saved["probes"]))
    return saved
