"""Step `barrier`: align one pair, then measure loss and accuracy along the straight path, aligned and not."""

from __future__ import annotations

import logging
import time

import pandas as pd

from ..barrier import barriers_from_curve, curve, grid
from ..checkpoint import load_extra, load_into
from ..models import has_batchnorm
from .common import ANCHOR_BASES, bn_data, code_record, model_factory, setup, splits_of, train_eval_data, write_csv

log = logging.getLogger("starlight")


def barrier_job(dataset_file: str, exp: dict, pair_type: str, model1: str, model2: str, ckpt1: str, ckpt2: str,
                out_curve: str, out_barriers: str, threads: int = 1) -> None:
    """Align model2 onto model1, then measure loss/accuracy along the straight path, aligned and not.

    With BN, every point of both curves (endpoints included) uses statistics re-estimated on the same BN
    subset, so the two curves share their endpoints and the endpoint columns describe the models as used."""
    t0 = time.perf_counter()
    device = setup(exp, threads)
    splits = splits_of(exp, dataset_file, device)
    new_model = model_factory(exp)
    m1 = load_into(new_model(), ckpt1, exp["model"]).to(device).eval()
    m2 = load_into(new_model(), ckpt2, exp["model"]).to(device).eval()
    bcfg = exp["barrier"]
    ts = grid(bcfg["grid_points"])
    bn_x = bn_data(exp, splits) if has_batchnorm(m1) else None
    eval_sets = {"train": train_eval_data(exp, splits), "test": splits.test}

    variants = {"unaligned": m2}
    if bcfg["align"]:
        from ..align import align

        variants["aligned"] = align(m1, m2, splits.train.head(256), seed=bcfg["align_seed"],
                                    method=bcfg["align_method"])
    rows, barriers = [], {}
    for variant, model in variants.items():
        points = curve(m1, model, eval_sets, ts, bn_x)
        rows += [{"aligned": variant == "aligned", **r} for r in points]
        barriers[variant] = barriers_from_curve(points)
    if pair_type == "star_anchor":
        barriers["training_basis"] = training_basis_barriers(m1, m2, ckpt1, model2, eval_sets, ts, bn_x,
                                                             barriers["unaligned"], splits.train.head(256))
    main = barriers["aligned" if bcfg["align"] else "unaligned"]
    record = {"pair_type": pair_type, "model1": model1, "model2": model2,
              "n_anchors": exp.get("n_anchors"), "aligned": bool(bcfg["align"]), **main}
    record.update({f"unaligned_{k}": v for k, v in barriers["unaligned"].items()})
    record.update({f"training_basis_{k}": v for k, v in barriers.get("training_basis", {}).items()})
    endpoints = [r for r in rows if r["aligned"] == bool(bcfg["align"]) and r["t"] in (0.0, 1.0)]
    for r in endpoints:
        prefix = "model1" if r["t"] == 0.0 else "model2"
        record[f"{prefix}_{r['split']}_loss"] = r["loss"]
        record[f"{prefix}_{r['split']}_acc"] = r["accuracy"]
    record.update({"n_train_eval": len(eval_sets["train"]), "n_test_eval": len(eval_sets["test"]),
                   "n_bn": 0 if bn_x is None else bn_x.shape[0], **code_record("barrier", exp)})
    write_csv(pd.DataFrame(rows), out_curve)
    write_csv(pd.DataFrame([record]), out_barriers)
    log.info("%s %s vs %s: train loss barrier %.4f (unaligned %.4f), test %.4f, %.1fs", pair_type, model1, model2,
             main["train_loss_barrier"], barriers["unaligned"]["train_loss_barrier"], main["test_loss_barrier"],
             time.perf_counter() - t0)


def training_basis_barriers(star, anchor, star_ckpt: str, anchor_id: str, eval_sets, ts, bn_x, unaligned: dict,
                            example) -> dict:
    """A star–anchor pair's barriers in the basis the star was trained in: the anchor permuted as the star's
    training last re-aligned it (kept in the star's checkpoint), or as given when the star never re-aligned it
    (then they equal the unaligned barriers). Fresh matching stays the headline."""
    perms = (load_extra(star_ckpt, ANCHOR_BASES) or {}).get(anchor_id)
    if perms is None:
        return dict(unaligned)
    import copy

    from ..align import apply_permutations, permutation_spec

    spec = permutation_spec(anchor, example)
    try:
        state = apply_permutations(anchor.state_dict(), spec, perms)
    except ValueError as err:  # permutations of another engine (align_method: rebasin) that miss groups
        log.warning("%s: no training-basis barriers for %s: %s", star_ckpt, anchor_id, err)
        return {k: float("nan") for k in unaligned}
    permuted = copy.deepcopy(anchor)
    permuted.load_state_dict(state)
    return barriers_from_curve(curve(star, permuted, eval_sets, ts, bn_x))
