"""A star re-aligned to its anchors every epoch keeps the permutations it was last trained against, and its
star–anchor barriers are measured in that basis as well as after fresh matching (a depth-3 MLP, where the two
differ)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from conftest import job_experiment

from starlight.align import apply_permutations, permutation_spec
from starlight.data import load_splits
from starlight.io.checkpoint import load_extra, load_into, load_state_dict
from starlight.jobs.barrier import pair_job
from starlight.jobs.train import train_job
from starlight.jobs.train_star import anchor_realigner, train_star_job
from starlight.measure.barrier import barriers_from_curve, curve, grid
from starlight.models import build_model
from starlight.pipeline.job import ANCHOR_BASES
from starlight.training.star import train_star

EXP = job_experiment({"name": "mlp", "depth": 3, "width": 32}, epochs=3)
STAR = {"t_scheme": "uniform", "t_constant": 0.5, "mu_star": 0.0, "realign_every_epoch": True, "n_anchors": 2,
        "seed": 7}
ANCHORS = ("anchor-0", "anchor-1")


@pytest.fixture(scope="module")
def models(dataset_file, tmp_path_factory):
    """Two anchors, a star re-aligned every epoch (star-0), one that never re-aligns (star-1), a held-out model."""
    out = tmp_path_factory.mktemp("basis")
    for name in (*ANCHORS, "heldout-100"):
        role, seed = name.split("-")
        train_job(str(dataset_file), EXP, role, int(seed), str(out / f"{name}.pt"), str(out / f"{name}.json"))
    anchors = [str(out / f"{a}.pt") for a in ANCHORS]
    train_star_job(str(dataset_file), EXP | {"star": STAR}, "star-0", anchors, str(out / "star-0.pt"),
             str(out / "star-0.json"))
    train_star_job(str(dataset_file), EXP | {"star": STAR | {"realign_every_epoch": False}}, "star-1", anchors,
             str(out / "star-1.pt"), str(out / "star-1.json"))
    return out


def _model(path):
    return load_into(build_model(EXP["model"]), path).eval()


def test_the_star_keeps_the_permutations_of_the_anchors_it_was_last_trained_against(dataset_file, models):
    bases = load_extra(models / "star-0.pt", ANCHOR_BASES)
    assert sorted(bases) == list(ANCHORS)
    assert load_extra(models / "star-1.pt", ANCHOR_BASES) is None  # never re-aligned: trained in the given basis

    # Train the same star again, recording the anchors each re-alignment hands to the training
    splits = load_splits(str(dataset_file), EXP["dataset"], EXP["data"])
    example = splits.train.head(256)
    realign = anchor_realigner(lambda: build_model(EXP["model"]), example, 0, "matching", "cpu")
    handed = []

    def recording(star_model, state, basis):
        new_state, new_basis = realign(star_model, state, basis)
        handed.append(new_state)
        return new_state, new_basis

    torch.manual_seed(STAR["seed"])
    star = build_model(EXP["model"])
    originals = [load_state_dict(models / f"{a}.pt") for a in ANCHORS]
    train_star("star-0", star, originals, splits.train, EXP["train"], STAR["seed"], realign=recording)
    assert all(torch.equal(v, load_state_dict(models / "star-0.pt")[k]) for k, v in star.state_dict().items())

    assert len(handed) == 2 * (EXP["train"]["epochs"] - 1)  # after every epoch but the last
    last = handed[-2:]
    spec = permutation_spec(build_model(EXP["model"]), example)
    changed = 0
    for i, anchor in enumerate(ANCHORS):
        permuted = apply_permutations(originals[i], spec, bases[anchor])
        assert all(torch.equal(permuted[k], last[i][k]) for k in permuted), anchor
        changed += sum(not torch.equal(p, torch.arange(len(p))) for p in bases[anchor].values())
    assert changed > 0  # the re-alignments did permute something


def _barrier(dataset_file, models, pair_type, m1, m2) -> pd.Series:
    curve_csv, barrier_csv = models / f"{m1}__{m2}.curve.csv", models / f"{m1}__{m2}.barriers.csv"
    pair_job(str(dataset_file), EXP | {"n_anchors": 2}, pair_type, m1, m2, str(models / f"{m1}.pt"),
                str(models / f"{m2}.pt"), str(curve_csv), str(barrier_csv))
    return pd.read_csv(barrier_csv).iloc[0]


def test_star_anchor_barriers_in_the_training_basis_beside_fresh_matching(dataset_file, models):
    row = _barrier(dataset_file, models, "star_anchor", "star-0", "anchor-0")
    splits = load_splits(str(dataset_file), EXP["dataset"], EXP["data"])
    anchor = _model(models / "anchor-0.pt")
    spec = permutation_spec(anchor, splits.train.head(256))
    anchor.load_state_dict(apply_permutations(anchor.state_dict(),  spec,
                                              load_extra(models / "star-0.pt", ANCHOR_BASES)["anchor-0"]))
    expected = barriers_from_curve(curve(_model(models / "star-0.pt"), anchor,
                                         {"train": splits.train, "test": splits.test}, grid(5), None))
    for key, value in expected.items():
        assert row[f"training_basis_{key}"] == pytest.approx(value, rel=1e-6, abs=1e-7), key
    # fresh matching stays the headline; the training basis is a different alignment of the same pair
    assert row["train_loss_barrier"] != row["training_basis_train_loss_barrier"]
    assert row["training_basis_train_loss_barrier"] != row["unaligned_train_loss_barrier"]


def test_a_star_that_never_re_aligned_was_trained_in_the_anchors_own_basis(dataset_file, models):
    row = _barrier(dataset_file, models, "star_anchor", "star-1", "anchor-1")
    for key in ("train_loss_barrier", "test_loss_barrier", "train_acc_barrier", "test_acc_barrier"):
        assert row[f"training_basis_{key}"] == row[f"unaligned_{key}"]


def test_other_pairs_have_no_training_basis(dataset_file, models):
    row = _barrier(dataset_file, models, "star_heldout", "star-0", "heldout-100")
    assert not [c for c in row.index if c.startswith("training_basis_")]
