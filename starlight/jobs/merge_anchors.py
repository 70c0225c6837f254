"""Step `merge_anchors`: the first k anchors merged into one model by weight matching (starlight/align/merge.py)."""

from __future__ import annotations

import time
from pathlib import Path

from ..align.merge import merge_many
from ..io.checkpoint import load_into
from ..measure.bn import recompute_bn_stats
from ..models import has_batchnorm
from ..pipeline import recovery
from ..pipeline.job import bn_data, code_record, model_factory, setup, splits_of, write_model
from ..pipeline.runtime import provenance


def merge_anchors_job(dataset_file: str, exp: dict, name: str, anchor_ckpts: list[str], out_ckpt: str,
                      out_json: str, threads: int = 1) -> None:
    """Merge the anchors of `anchor_ckpts`, each aligned onto the mean of the others (`exp["alignment"]`'s method
    and seed, for at most `exp["controls"]["merge_rounds"]` rounds), average them and re-estimate BN statistics
    on the BN subset (`exp["bn"]`), as for every model the pipeline writes."""
    from ..align import align

    t0 = time.perf_counter()
    job_key = recovery.key(exp, anchor_ckpts)
    if recovery.restore(out_ckpt, out_json, job_key):
        return
    device = setup(exp, threads)
    splits = splits_of(exp, dataset_file, device)
    new_model = model_factory(exp)
    anchors = [load_into(new_model(), p, exp["model"]).to(device).eval() for p in anchor_ckpts]
    example, alignment = splits.train.head(256), exp["alignment"]
    model, how = merge_many(anchors, lambda ref, m: align(ref, m, example, seed=alignment["seed"],
                                                          method=alignment["method"]),
                            exp["controls"]["merge_rounds"])
    if has_batchnorm(model):
        recompute_bn_stats(model, bn_data(exp, splits))
    meta = {"model": name, "role": "merged", "n_anchors": len(anchor_ckpts),
            "anchors": [Path(p).stem for p in anchor_ckpts],
            "config": {k: exp[k] for k in ("data", "model", "controls")}, "alignment": alignment, **how,
            **provenance(device),
            **code_record("merge_anchors", exp)}
    write_model(model, exp, splits, meta, out_ckpt, out_json, t0, None, job_key)
