"""One function per pipeline step. Workflow scripts only unpack `snakemake` and call these, so every step
runs (and is tested) without Snakemake too."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import pandas as pd
import torch

from .barrier import barriers_from_curve, curve, grid
from .bn import bn_subset, recompute_bn_stats
from .checkpoint import archive, atomic_write, load_into, save_json, save_model, save_torch
from .data import check_dataset, load_splits, read_staged, stage_fashion_mnist
from .metrics import evaluate_splits
from .models import build_model, has_batchnorm
from .runtime import configure, provenance, resolve_device, seed_everything
from .star import train_star
from .train import train_classifier

log = logging.getLogger("starlight")


def stage_data(out_dir: str, dataset: str, data_root: str | None, allow_download: bool) -> None:
    check_dataset(dataset)
    stage_fashion_mnist(out_dir, data_root, allow_download)
    log.info("%s raw files staged in %s", dataset, out_dir)


def prepare_data(staged_dir: str, out: str, dataset: str) -> None:
    t0 = time.perf_counter()
    check_dataset(dataset)
    raw = read_staged(staged_dir)
    save_torch(raw, out)
    log.info("%s: %d train and %d test images written to %s in %.1fs", dataset, len(raw["train_y"]),
             len(raw["test_y"]), out, time.perf_counter() - t0)


def _setup(exp: dict, threads: int):
    configure(threads, exp.get("deterministic", False))
    device = resolve_device(exp.get("device", "auto"))
    where = provenance(device)
    log.info("device %s (%s), %d thread(s), SLURM job %s", where["device"], where["device_name"], where["threads"],
             where["slurm_job_id"] or "none")
    return device


def _bn_data(exp: dict, splits) -> torch.Tensor:
    return bn_subset(splits.train_x, exp["barrier"]["bn_subset"], exp["barrier"]["bn_seed"])


def _write_model(model, exp: dict, splits, meta: dict, out_ckpt: str, out_json: str, t0: float,
                 state_path: str | None) -> None:
    """Evaluate, write metadata and checkpoint atomically, archive them, and drop the finished training state."""
    meta["final"] = evaluate_splits(model, splits)
    meta["seconds"] = time.perf_counter() - t0
    log.info("final %s", " ".join(f"{k} {v:.4f}" for k, v in meta["final"].items()))
    # The JSON goes first: the checkpoint is what marks the job done for a reader that checks it alone.
    save_json(meta, out_json)
    save_model(model, exp["model"], out_ckpt)
    archive_dir = Path(out_ckpt).parent.parent / "archive" / meta["model"]
    archive([out_ckpt, out_json], archive_dir, f"{time.strftime('%Y%m%dT%H%M%S')}-{config_hash(exp)}")
    if state_path:
        Path(state_path).unlink(missing_ok=True)


def file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def config_hash(exp: dict) -> str:
    """A short fingerprint of a job's config: tags its training state and its archived checkpoints."""
    return hashlib.sha256(json.dumps(exp, sort_keys=True, default=str).encode()).hexdigest()[:10]


def train_job(dataset_file: str, exp: dict, role: str, seed: int, out_ckpt: str, out_json: str,
              state_path: str | None = None, threads: int = 1) -> None:
    """Train one anchor or held-out model from its seed, or import it from `exp["pretrained"]`."""
    t0 = time.perf_counter()
    device = _setup(exp, threads)
    splits = load_splits(dataset_file, exp["data"]).to(device)
    seed_everything(seed)
    model = build_model(exp["model"]).to(device)
    name = f"{role}-{seed}"
    pretrained = exp.get("pretrained")
    if pretrained:
        load_into(model, pretrained, exp["model"])
        log.info("%s: imported from %s", name, pretrained)
        history = []
    else:
        history = train_classifier(name, model, splits.train_x, splits.train_y, exp["train"], seed, state_path,
                                   config_hash(exp))
        if has_batchnorm(model):
            recompute_bn_stats(model, _bn_data(exp, splits))
    meta = {"model": name, "role": role, "seed": seed, "config": {k: exp[k] for k in ("data", "model", "train")},
            "pretrained": pretrained, "epochs": 0 if pretrained else exp["train"]["epochs"], "history": history,
            **provenance(device)}
    _write_model(model, exp, splits, meta, out_ckpt, out_json, t0, state_path)


def star_job(dataset_file: str, exp: dict, name: str, anchor_ckpts: list[str], out_ckpt: str, out_json: str,
             state_path: str | None = None, threads: int = 1) -> None:
    """Train one star on its anchors with the Starlight objective.

    `exp["star"]` holds this star's settings: t_scheme, t_constant, mu_star, realign_every_epoch, and its
    own `n_anchors` and `seed`; `exp["train"]` its optimizer and schedule.
    """
    t0 = time.perf_counter()
    device = _setup(exp, threads)
    splits = load_splits(dataset_file, exp["data"]).to(device)
    cfg, scfg = exp["train"], exp["star"]
    if len(anchor_ckpts) != scfg["n_anchors"]:
        raise ValueError(f"{name} is trained on {scfg['n_anchors']} anchors but {len(anchor_ckpts)} were given")
    anchors = [load_into(build_model(exp["model"]), p, exp["model"]).state_dict() for p in anchor_ckpts]
    seed_everything(scfg["seed"])
    model = build_model(exp["model"]).to(device)
    realign = None
    if scfg["realign_every_epoch"]:
        from .align import align

        example = splits.train_x[:256]

        def realign(star_model, anchor_state):
            anchor_model = build_model(exp["model"]).to(device)
            anchor_model.load_state_dict(anchor_state)
            aligned = align(star_model, anchor_model, example, seed=exp["barrier"]["align_seed"])
            return aligned.state_dict()

    history = train_star(name, model, anchors, splits.train_x, splits.train_y, cfg, scfg["seed"],
                         t_scheme=scfg["t_scheme"], t_constant=scfg["t_constant"], mu_star=scfg["mu_star"],
                         realign=realign, state_path=state_path,
                         state_tag=config_hash({**exp, "anchor_files": [file_digest(p) for p in anchor_ckpts]}))
    if has_batchnorm(model):
        recompute_bn_stats(model, _bn_data(exp, splits))
    meta = {"model": name, "role": "star", "seed": scfg["seed"], "n_anchors": scfg["n_anchors"],
            "anchors": [Path(p).stem for p in anchor_ckpts],
            "config": {"data": exp["data"], "model": exp["model"], "train": cfg, "star": scfg},
            "epochs": cfg["epochs"], "history": history, **provenance(device)}
    _write_model(model, exp, splits, meta, out_ckpt, out_json, t0, state_path)


def barrier_job(dataset_file: str, exp: dict, pair_type: str, model1: str, model2: str, ckpt1: str, ckpt2: str,
                out_curve: str, out_barriers: str, threads: int = 1) -> None:
    """Align model2 onto model1, then measure loss/accuracy along the straight path, aligned and not."""
    t0 = time.perf_counter()
    device = _setup(exp, threads)
    splits = load_splits(dataset_file, exp["data"]).to(device)
    m1 = load_into(build_model(exp["model"]), ckpt1, exp["model"]).to(device).eval()
    m2 = load_into(build_model(exp["model"]), ckpt2, exp["model"]).to(device).eval()
    bcfg = exp["barrier"]
    ts = grid(bcfg["grid_points"])
    bn_x = _bn_data(exp, splits) if has_batchnorm(m1) else None
    eval_splits = {"train": splits.split("train"), "test": splits.split("test")}

    variants = {"unaligned": m2}
    if bcfg["align"]:
        from .align import align

        aligned = align(m1, m2, splits.train_x[:256], seed=bcfg["align_seed"])
        variants["aligned"] = recompute_bn_stats(aligned, bn_x) if bn_x is not None else aligned.eval()
    rows, barriers = [], {}
    for variant, model in variants.items():
        points = curve(m1, model, eval_splits, ts, bn_x)
        rows += [{"aligned": variant == "aligned", **r} for r in points]
        barriers[variant] = barriers_from_curve(points)
    main = barriers["aligned" if bcfg["align"] else "unaligned"]
    record = {"pair_type": pair_type, "model1": model1, "model2": model2,
              "n_anchors": exp.get("n_anchors"), "aligned": bool(bcfg["align"]), **main}
    record.update({f"unaligned_{k}": v for k, v in barriers["unaligned"].items()})
    endpoints = [r for r in rows if r["aligned"] == bool(bcfg["align"]) and r["t"] in (0.0, 1.0)]
    for r in endpoints:
        prefix = "model1" if r["t"] == 0.0 else "model2"
        record[f"{prefix}_{r['split']}_loss"] = r["loss"]
        record[f"{prefix}_{r['split']}_acc"] = r["accuracy"]
    write_csv(pd.DataFrame(rows), out_curve)
    write_csv(pd.DataFrame([record]), out_barriers)
    log.info("%s %s vs %s: train loss barrier %.4f (unaligned %.4f), test %.4f, %.1fs", pair_type, model1, model2,
             main["train_loss_barrier"], barriers["unaligned"]["train_loss_barrier"], main["test_loss_barrier"],
             time.perf_counter() - t0)


def write_csv(df: pd.DataFrame, path: str) -> None:
    atomic_write(path, lambda tmp: df.to_csv(tmp, index=False, float_format="%.8g"))


def aggregate_job(experiment: str, barrier_csvs: list[str], curve_csvs: list[str], out_barriers: str,
                  out_curves: str, out_summary: str) -> None:
    from .aggregate import collect_barriers, collect_curves, summarise

    barriers = collect_barriers(experiment, barrier_csvs)
    write_csv(collect_curves(barriers, curve_csvs), out_curves)
    write_csv(summarise(barriers), out_summary)
    write_csv(barriers, out_barriers)
    means = barriers.groupby(["pair_type", "n_anchors"], dropna=False)["train_loss_barrier"].mean()
    log.info("%s: %d pairs; mean train loss barrier per group:\n%s", experiment, len(barriers), means.to_string())


def figures_job(experiment: str, barriers_csv: str, curves_csv: str, out_dir: str) -> None:
    from .plots import plot_barriers, plot_curves

    barriers, curves = pd.read_csv(barriers_csv), pd.read_csv(curves_csv)
    for p in plot_curves(curves, Path(out_dir), f"{experiment}: loss and accuracy along the path "
                         "(aligned, mean ± std)") + plot_barriers(barriers, Path(out_dir), f"{experiment}: barriers"):
        log.info("wrote %s", p)
