"""Per-pair reuse (starlight/pipeline/memo.py): a barrier job keeps the pairs whose checkpoints, params and code did
not change, and recomputes every other pair, as well as one whose outputs were half written."""

import copy
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from starlight.io.checkpoint import load_into, save_model
from starlight.models import build_model
from starlight.pipeline import memo

MODEL = {"name": "mlp", "depth": 1, "width": 16, "batchnorm": False}
EXPERIMENT = {
    "dataset": "fashion_mnist", "device": "cpu", "deterministic": False,
    "data": {"val_size": 500, "split_seed": 0, "train_subset": 1000, "test_subset": 500},
    "model": MODEL,
    "alignment": {"method": "matching", "seed": 0},
    "bn": {"subset": 200, "seed": 0},
    "barrier": {"grid_points": 3, "align": True},
    "n_anchors": None,
}


@pytest.fixture
def checkpoints(tmp_path):
    """Three untrained MLPs of different seeds: model1 and the two model2s of its pairs."""
    paths = []
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        path = tmp_path / f"m{seed}.pt"
        save_model(build_model(MODEL), MODEL, path)
        paths.append(str(path))
    return paths


def test_the_key_is_of_contents_pair_and_params(checkpoints, tmp_path):
    m0, m1, m2 = checkpoints
    pair, params = ("anchor_heldout", "anchor-0", "heldout-0"), {"barrier": {"grid_points": 3}, "code": "abc"}
    key = memo.pair_key(pair, (m0, m1), params)
    assert len(key) == 64 and key == memo.pair_key(pair, (m0, m1), copy.deepcopy(params))
    moved = tmp_path / "elsewhere.pt"
    shutil.copy(m1, moved)
    assert memo.pair_key(pair, (m0, str(moved)), params) == key  # where a checkpoint lies does not matter
    others = {
        memo.pair_key(("star_heldout", "anchor-0", "heldout-0"), (m0, m1), params),
        memo.pair_key(pair, (m0, m2), params),
        memo.pair_key(pair, (m1, m0), params),
        memo.pair_key(pair, (m0, m1), {"barrier": {"grid_points": 5}, "code": "abc"}),
        memo.pair_key(pair, (m0, m1), {"barrier": {"grid_points": 3}, "code": "abd"}),
    }
    assert key not in others and len(others) == 5


def test_fresh_needs_the_same_key_and_every_output(tmp_path):
    stem = str(tmp_path / "pair")
    outputs = [f"{stem}.curve.csv", f"{stem}.barriers.csv"]
    assert not memo.fresh(stem, outputs, "k1")  # nothing yet
    for path in outputs:
        Path(path).write_text("x\n")
    assert not memo.fresh(stem, outputs, "k1")  # outputs without a key: made by no finished pair
    memo.remember(stem, "k1")
    assert memo.key_file(stem).read_text() == "k1\n"
    assert memo.fresh(stem, outputs, "k1")
    assert not memo.fresh(stem, outputs, "k2")
    (tmp_path / "pair.barriers.csv").unlink()
    assert not memo.fresh(stem, outputs, "k1")
    memo.forget(stem)
    assert not memo.key_file(stem).exists()
    memo.forget(stem)  # forgetting twice is harmless


def _run(dataset_file, ckpt1, pairs, folder, exp=EXPERIMENT):
    """One barrier job of model1 `anchor-0` over `pairs`; its listing of pairs and keys."""
    from starlight.jobs.barrier import barrier_job

    batch = folder / "batch.json"
    barrier_job(str(dataset_file), exp, "anchor-0", ckpt1, pairs, str(batch))
    return json.loads(batch.read_text())["pairs"]


def _state(stem):
    """(modification time, contents) of a pair's outputs and key."""
    files = [f"{stem}.curve.csv", f"{stem}.barriers.csv", f"{stem}.key"]
    return [(p, os.stat(p).st_mtime_ns, Path(p).read_text()) for p in files]


def test_a_rerun_keeps_unchanged_pairs_and_recomputes_the_changed_one(dataset_file, checkpoints, tmp_path, caplog):
    m0, m1, m2 = checkpoints
    out = tmp_path / "pairs"
    out.mkdir()
    pairs = [("anchor_heldout", "heldout-0", m1, str(out / "a")), ("anchor_heldout", "heldout-1", m2, str(out / "b"))]
    caplog.set_level("INFO", logger="starlight")
    listing = _run(dataset_file, m0, pairs, out)
    assert [p["model2"] for p in listing] == ["heldout-0", "heldout-1"]
    assert "2 pairs, 2 computed, 0 unchanged" in caplog.text
    first = {stem: _state(stem) for stem in (str(out / "a"), str(out / "b"))}

    caplog.clear()
    assert _run(dataset_file, m0, pairs, out) == listing  # same keys
    assert "2 pairs, 0 computed, 2 unchanged" in caplog.text
    assert {stem: _state(stem) for stem in first} == first  # not even rewritten

    # heldout-1 retrained (here: one weight changed): only its pair is recomputed, to a different curve
    model = load_into(build_model(MODEL), m2, MODEL)
    with torch.no_grad():
        next(model.parameters()).mul_(1.5)
    save_model(model, MODEL, m2)
    caplog.clear()
    again = _run(dataset_file, m0, pairs, out)
    assert "2 pairs, 1 computed, 1 unchanged" in caplog.text
    assert again[0] == listing[0] and again[1]["key"] != listing[1]["key"]
    assert _state(str(out / "a")) == first[str(out / "a")]
    assert (out / "b.curve.csv").read_text() != first[str(out / "b")][0][2]
    assert memo.key_file(str(out / "b")).read_text().strip() == again[1]["key"]


def test_a_pair_killed_before_its_key_is_recomputed(dataset_file, checkpoints, tmp_path, caplog):
    """The key is written after the outputs: outputs without it (a job killed in between) are not trusted."""
    m0, m1, _ = checkpoints
    out = tmp_path / "pairs"
    out.mkdir()
    pairs = [("anchor_heldout", "heldout-0", m1, str(out / "a"))]
    _run(dataset_file, m0, pairs, out)
    curve = (out / "a.curve.csv").read_text()
    memo.forget(str(out / "a"))
    (out / "a.curve.csv").write_text("half written\n")
    caplog.set_level("INFO", logger="starlight")
    _run(dataset_file, m0, pairs, out)
    assert "1 pairs, 1 computed, 0 unchanged" in caplog.text
    assert (out / "a.curve.csv").read_text() == curve


def test_other_params_recompute_every_pair(dataset_file, checkpoints, tmp_path, caplog):
    m0, m1, m2 = checkpoints
    out = tmp_path / "pairs"
    out.mkdir()
    pairs = [("anchor_heldout", "heldout-0", m1, str(out / "a")), ("anchor_heldout", "heldout-1", m2, str(out / "b"))]
    _run(dataset_file, m0, pairs, out)
    coarse = len((out / "a.curve.csv").read_text().splitlines())
    finer = copy.deepcopy(EXPERIMENT)
    finer["barrier"]["grid_points"] = 5
    caplog.set_level("INFO", logger="starlight")
    _run(dataset_file, m0, pairs, out, finer)
    assert "2 pairs, 2 computed, 0 unchanged" in caplog.text
    assert len((out / "a.curve.csv").read_text().splitlines()) > coarse  # the finer grid's rows
