"""Step `ensembles`: does the star domain hold models worth averaging? Test accuracy and NLL of one star, its
anchors, their ensembles, and an ensemble of models sampled on the segments from the star to its anchors."""

from __future__ import annotations

import logging
import time

import pandas as pd

from ..io.checkpoint import load_into
from ..measure.bn import recompute_bn_stats
from ..measure.ensembles import evaluate_ensembles, segment_models
from ..models import has_batchnorm
from ..pipeline.job import bn_data, code_record, model_factory, setup, splits_of, write_csv

log = logging.getLogger("starlight")

# What each row of the output is (its `description` column).
METHODS = {
    "star": "the star alone",
    "anchor": "one anchor alone (its id in `model`)",
    "anchors_ensemble": "the star's anchors, softmax outputs averaged",
    "star_and_anchors_ensemble": "the star and its anchors, softmax outputs averaged (for reference)",
    "segment_ensemble": "models at (1-t)·star + t·anchor, anchor uniform among the star's anchors (aligned onto "
                        "the star), t uniform in [0,1], BN re-estimated per model; softmax outputs averaged",
}


def ensemble_settings(exp: dict) -> tuple[int, int, int]:
    """(samples, seed, alignment seed), each checked, named by its config key when missing or wrong."""
    section = exp.get("ensembles") or {}
    if not isinstance(section, dict):
        raise TypeError(f"ensembles={section!r}: needs a section {{samples: int >= 1, seed: int >= 0}}")
    align_seed = (exp.get("alignment") or {}).get("seed")
    out = []
    for key, value, least in (("ensembles.samples", section.get("samples"), 1),
                              ("ensembles.seed", section.get("seed"), 0),
                              ("alignment.seed", align_seed, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ValueError(f"{key}={value!r}: needs an integer >= {least}")
        out.append(value)
    return tuple(out)


def ensemble_job(dataset_file: str, exp: dict, star_id: str, star_ckpt: str, anchor_ids: list[str],
                 anchor_ckpts: list[str], out_csv: str, threads: int = 1) -> None:
    """Test accuracy and NLL of the star, each anchor, the anchors' ensemble, the star-and-anchors ensemble and
    the segment ensemble (`exp["ensembles"]`: samples, seed), one row each in `out_csv`.

    With BN, every model evaluated (star and anchors included) has its statistics re-estimated on the BN subset
    first, as on the barrier curves: no row depends on the statistics stored with a checkpoint."""
    t0 = time.perf_counter()
    samples, seed, align_seed = ensemble_settings(exp)
    if not anchor_ckpts or len(anchor_ids) != len(anchor_ckpts):
        raise ValueError(f"{star_id}: needs one id per anchor checkpoint and at least one anchor, got "
                         f"{len(anchor_ids)} ids for {len(anchor_ckpts)} checkpoints")
    device = setup(exp, threads)
    splits = splits_of(exp, dataset_file, device)
    new_model = model_factory(exp)
    star = load_into(new_model(), star_ckpt, exp["model"]).to(device).eval()
    anchors = [load_into(new_model(), p, exp["model"]).to(device).eval() for p in anchor_ckpts]
    bn_x = bn_data(exp, splits) if has_batchnorm(star) else None
    if bn_x is not None:
        for model in (star, *anchors):
            recompute_bn_stats(model, bn_x)

    from ..align import align

    example = splits.train.head(256)
    aligned = [align(star, anchor, example, seed=align_seed, method=exp["alignment"]["method"])
               for anchor in anchors]
    points, segment = segment_models(star, aligned, samples, seed, bn_x)
    log.info("%s: %d segment models, t = %s on anchors %s", star_id, samples,
             " ".join(f"{t:.3f}" for _, t in points), " ".join(anchor_ids[i] for i, _ in points))

    k = len(anchors)
    anchor_idx = list(range(1, k + 1))
    ensembles = {("star", ""): [0], **{("anchor", aid): [i] for aid, i in zip(anchor_ids, anchor_idx)},
                 ("anchors_ensemble", ""): anchor_idx, ("star_and_anchors_ensemble", ""): [0, *anchor_idx],
                 ("segment_ensemble", ""): list(range(k + 1, k + 1 + samples))}
    results = evaluate_ensembles([star, *anchors, *segment], ensembles, splits.test)
    code = code_record("ensembles", exp)
    rows = [{"star": star_id, "method": method, "model": model, "n_models": len(ensembles[method, model]),
             "test_acc": acc, "test_nll": nll, "n_test_eval": len(splits.test),
             "n_bn": 0 if bn_x is None else bn_x.shape[0], "description": METHODS[method], **code}
            for (method, model), (nll, acc) in results.items()]
    write_csv(pd.DataFrame(rows), out_csv)
    for r in rows:
        log.info("%s %-26s %-10s n=%-3d test acc %.4f nll %.4f", star_id, r["method"], r["model"], r["n_models"],
                 r["test_acc"], r["test_nll"])
    log.info("%s: done in %.1fs", star_id, time.perf_counter() - t0)
