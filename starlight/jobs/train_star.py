"""Step `train_star`: one star, trained on its anchors with the Starlight objective."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ..io.checkpoint import load_into
from ..measure.bn import recompute_bn_stats
from ..models import has_batchnorm
from ..pipeline import recovery
from ..pipeline.job import (
    ANCHOR_BASES,
    bn_data,
    code_record,
    epoch_reporter,
    model_factory,
    setup,
    splits_of,
    write_model,
)
from ..pipeline.runtime import provenance, seed_everything
from ..training.star import Realign, train_star


def train_star_job(dataset_file: str, exp: dict, name: str, anchor_ckpts: list[str], out_ckpt: str, out_json: str,
                   state_path: str | None = None, threads: int = 1, checkpoint_every: int = 1,
                   on_epoch: Callable[[dict], None] | None = None) -> None:
    """Train one star on its anchors with the Starlight objective (`on_epoch`: see train_job).

    `exp["star"]` holds this star's settings: t_scheme, t_constant, mu_star, realign_every_epoch, and its
    own `n_anchors` and `seed`; `exp["train"]` its optimizer and schedule.
    """
    t0 = time.perf_counter()
    job_key = recovery.key(exp, anchor_ckpts)
    if recovery.restore(out_ckpt, out_json, job_key):
        return
    device = setup(exp, threads)
    splits = splits_of(exp, dataset_file, device)
    new_model = model_factory(exp)
    cfg, scfg = exp["train"], exp["star"]
    if len(anchor_ckpts) != scfg["n_anchors"]:
        raise ValueError(f"{name} is trained on {scfg['n_anchors']} anchors but {len(anchor_ckpts)} were given")
    anchors = [load_into(new_model(), p, exp["model"]).state_dict() for p in anchor_ckpts]
    seed_everything(scfg["seed"])
    model = new_model().to(device)
    bases: list = [None] * len(anchors)
    realign = None
    if scfg["realign_every_epoch"] or scfg.get("realign_before_training"):
        realign = anchor_realigner(new_model, splits.train.head(256), exp["alignment"]["seed"],
                                   exp["alignment"]["method"], device)
    history = train_star(name, model, anchors, splits.train, cfg, scfg["seed"],
                         t_scheme=scfg["t_scheme"], t_constant=scfg["t_constant"], mu_star=scfg["mu_star"],
                         realign=realign, bases=bases, state_path=state_path,
                         state_tag=job_key,
                         checkpoint_every=checkpoint_every, realign_first=scfg.get("realign_before_training", False),
                         realign_every_epoch=scfg["realign_every_epoch"],
                         on_record=epoch_reporter(on_epoch, model, splits, int(cfg["batch_size"])))
    if has_batchnorm(model):
        recompute_bn_stats(model, bn_data(exp, splits))
    meta = {"model": name, "role": "star", "seed": scfg["seed"], "n_anchors": scfg["n_anchors"],
            "anchors": [Path(p).stem for p in anchor_ckpts],
            "config": {"data": exp["data"], "model": exp["model"], "train": cfg, "star": scfg},
            "alignment": exp["alignment"] if realign else None,
            "epochs": cfg["epochs"], "history": history, **provenance(device), **code_record("star", exp)}
    # The training basis: each anchor's permutation into the basis the star was last trained against (none for
    # an anchor never re-aligned). The star-anchor barriers measure the pair in this basis too.
    trained_against = {Path(p).stem: {g: perm.cpu() for g, perm in basis.items()}
                       for p, basis in zip(anchor_ckpts, bases) if basis is not None}
    meta["anchors_permuted"] = sorted(trained_against)
    write_model(model, exp, splits, meta, out_ckpt, out_json, t0, state_path, job_key,
                extra={ANCHOR_BASES: trained_against} if trained_against else None)


def anchor_realigner(new_model, example, seed: int, method: str, device) -> Realign:
    """The per-epoch re-alignment: re-permute an anchor onto the star; its basis is the composed permutation from
    the anchor as given to the anchor as now trained against."""
    from ..align import align_with_permutations, compose

    def realign(star_model, anchor_state, basis):
        anchor_model = new_model().to(device)
        anchor_model.load_state_dict(anchor_state)
        aligned, perms = align_with_permutations(star_model, anchor_model, example, seed=seed, method=method)
        return aligned.state_dict(), perms if basis is None else compose(basis, perms)

    return realign
