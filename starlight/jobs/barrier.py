"""Step `barrier`: for each pair of a batch (the pairs of one model), align it, then measure loss and accuracy
along the straight path, aligned and not. One job evaluates many pairs: its start-up and the data it loads are
shared, and pairs whose inputs did not change since they were last evaluated are kept (memo.py)."""

from __future__ import annotations

import logging
import time

import pandas as pd

from ..io.checkpoint import load_extra, load_into, save_json
from ..io.phases import phase
from ..measure.barrier import barriers_from_curve, curve, grid, path_metrics
from ..models import has_batchnorm
from ..pipeline import memo
from ..pipeline.job import (
    ANCHOR_BASES,
    bn_data,
    code_record,
    model_factory,
    setup,
    splits_of,
    train_eval_data,
    write_csv,
)

log = logging.getLogger("starlight")


def barrier_job(dataset_file: str, exp: dict, model1: str, ckpt1: str, pairs: list[tuple[str, str, str, str]],
                out_batch: str, threads: int = 1) -> None:
    """Evaluate a batch of pairs of `model1`: `pairs` lists (pair_type, model2, checkpoint of model2, stem of the
    pair's outputs, pipeline/paths.py); each pair writes <stem>.curve.csv and <stem>.barriers.csv. The data, the
    evaluation sets and model1 are loaded once. A pair whose outputs exist and were made from the same
    checkpoints, params and code (memo.py) is kept as it is; `out_batch` lists every pair with its key."""
    t0 = time.perf_counter()
    load_model, m1, context = _shared(dataset_file, exp, ckpt1, threads)
    listing, computed = [], 0
    for pair_type, model2, ckpt2, stem in pairs:
        outputs = [f"{stem}.curve.csv", f"{stem}.barriers.csv"]
        with phase("load"):
            key = memo.pair_key((pair_type, model1, model2), (ckpt1, ckpt2), exp)
        listing.append({"pair_type": pair_type, "model1": model1, "model2": model2, "key": key})
        if memo.fresh(stem, outputs, key):
            continue
        memo.forget(stem)
        pair_barriers(exp, pair_type, model1, model2, m1, load_model(ckpt2), ckpt1, context, *outputs)
        memo.remember(stem, key)
        computed += 1
    with phase("write"):
        save_json({"pairs": listing}, out_batch)
    log.info("%s: %d pairs, %d computed, %d unchanged, %.1fs", model1, len(pairs), computed, len(pairs) - computed,
             time.perf_counter() - t0)


def pair_job(dataset_file: str, exp: dict, pair_type: str, model1: str, model2: str, ckpt1: str, ckpt2: str,
             out_curve: str, out_barriers: str, threads: int = 1) -> None:
    """One pair on its own, into the given files (no key, no listing)."""
    load_model, m1, context = _shared(dataset_file, exp, ckpt1, threads)
    pair_barriers(exp, pair_type, model1, model2, m1, load_model(ckpt2), ckpt1, context, out_curve, out_barriers)


def _shared(dataset_file: str, exp: dict, ckpt1: str, threads: int):
    """What every pair of a batch uses: a loader of checkpoints, model1, and the evaluation data."""
    device = setup(exp, threads)
    splits = splits_of(exp, dataset_file, device)
    new_model = model_factory(exp)

    @phase("load")
    def load_model(ckpt: str):
        return load_into(new_model(), ckpt, exp["model"]).to(device).eval()

    m1 = load_model(ckpt1)
    with phase("load"):  # a re-aligned star's anchor permutations (its star-anchor pairs' training basis)
        anchor_bases = load_extra(ckpt1, ANCHOR_BASES) or {}
    context = {"eval_sets": {"train": train_eval_data(exp, splits), "test": splits.test},
               "bn_x": bn_data(exp, splits) if has_batchnorm(m1) else None, "example": splits.train.head(256),
               "anchor_bases": anchor_bases}
    return load_model, m1, context


def pair_barriers(exp: dict, pair_type: str, model1: str, model2: str, m1, m2, ckpt1: str, context: dict,
                  out_curve: str, out_barriers: str) -> None:
    """Align model2 onto model1, then measure loss/accuracy along the straight path, aligned and not.

    With BN, every point of both curves (endpoints included) uses statistics re-estimated on the same BN
    subset, so the two curves share their endpoints and the endpoint columns describe the models as used."""
    t0 = time.perf_counter()
    bcfg = exp["barrier"]
    ts = grid(bcfg["grid_points"])
    eval_sets, bn_x = context["eval_sets"], context["bn_x"]

    variants = {"unaligned": m2}
    if bcfg["align"]:
        from ..align import align

        variants["aligned"] = align(m1, m2, context["example"], seed=exp["alignment"]["seed"],
                                    method=exp["alignment"]["method"])
    rows, barriers = [], {}
    for variant, model in variants.items():
        points = curve(m1, model, eval_sets, ts, bn_x)
        rows += [{"aligned": variant == "aligned", **r} for r in points]
        barriers[variant] = barriers_from_curve(points)
    if pair_type == "star_anchor":
        barriers["training_basis"] = training_basis_barriers(m1, m2, context["anchor_bases"].get(model2), model2,
                                                             eval_sets, ts, bn_x, barriers["unaligned"],
                                                             context["example"])
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
    record.update(path_metrics([r for r in rows if r["aligned"] == bool(bcfg["align"])]))  # new columns go last
    write_csv(pd.DataFrame(rows), out_curve)
    write_csv(pd.DataFrame([record]), out_barriers)
    log.info("%s %s vs %s: train loss barrier %.4f (unaligned %.4f), test %.4f, %.1fs", pair_type, model1, model2,
             main["train_loss_barrier"], barriers["unaligned"]["train_loss_barrier"], main["test_loss_barrier"],
             time.perf_counter() - t0)


def training_basis_barriers(star, anchor, perms, anchor_id: str, eval_sets, ts, bn_x, unaligned: dict,
                            example) -> dict:
    """A star–anchor pair's barriers in the basis the star was trained in: the anchor permuted by `perms`, as the
    star's training last re-aligned it (kept in the star's checkpoint), or as given when the star never re-aligned
    it (`perms` None: then they equal the unaligned barriers). Fresh matching stays the headline."""
    if perms is None:
        return dict(unaligned)
    import copy

    from ..align import apply_permutations, permutation_spec

    spec = permutation_spec(anchor, example)
    try:
        state = apply_permutations(anchor.state_dict(), spec, perms)
    except ValueError as err:  # permutations of another engine (alignment.method: rebasin) that miss groups
        log.warning("no training-basis barriers for %s: %s", anchor_id, err)
        return {k: float("nan") for k in unaligned}
    permuted = copy.deepcopy(anchor)
    permuted.load_state_dict(state)
    return barriers_from_curve(curve(star, permuted, eval_sets, ts, bn_x))
