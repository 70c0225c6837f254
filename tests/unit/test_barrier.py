import copy
import itertools
import math

import pytest
import torch
from conftest import job_experiment

from starlight.measure.barrier import barrier, barriers_from_curve, curve, grid, interpolate_state
from starlight.measure.bn import recompute_bn_stats
from starlight.measure.metrics import evaluate
from starlight.models import build_model, has_batchnorm


def test_grid_has_endpoints_and_even_spacing():
    ts = grid(11)
    assert len(ts) == 11 and ts[0] == 0.0 and ts[-1] == 1.0
    assert all(math.isclose(b - a, 0.1) for a, b in itertools.pairwise(ts))


def test_loss_barrier_of_known_curve():
    ts = grid(5)  # 0, .25, .5, .75, 1
    # chord from 1.0 to 3.0: 1.5, 2.0, 2.5 at the interior points; bump of 0.7 at t=0.5
    values = [1.0, 1.6, 2.7, 2.4, 3.0]
    assert barrier(ts, values, "loss") == pytest.approx(0.7)


def test_loss_barrier_is_clipped_at_zero_for_convex_path():
    ts = grid(5)
    assert barrier(ts, [1.0, 0.5, 0.4, 0.6, 1.0], "loss") == 0.0


def test_accuracy_barrier_uses_min_and_is_clipped_at_zero():
    ts = grid(3)
    assert barrier(ts, [0.9, 0.6, 0.8], "accuracy") == pytest.approx(0.6 - 0.85)
    assert barrier(ts, [0.9, 0.95, 0.8], "accuracy") == 0.0


def test_barrier_rejects_curve_without_endpoints():
    with pytest.raises(ValueError):
        barrier([0.1, 0.5, 1.0], [1, 2, 3])


@pytest.mark.parametrize("batchnorm", [False, True])
def test_interpolation_endpoints_reproduce_models(batchnorm):
    torch.manual_seed(0)
    cfg = {"name": "mlp", "depth": 2, "width": 16, "batchnorm": batchnorm}
    a, b = build_model(cfg), build_model(cfg)
    sa, sb = a.state_dict(), b.state_dict()
    for t, ref in ((0.0, sa), (1.0, sb)):
        st = interpolate_state(sa, sb, t)
        for k, v in ref.items():
            if v.is_floating_point():
                assert torch.equal(st[k], v), (t, k)
    mid = interpolate_state(sa, sb, 0.5)
    assert torch.allclose(mid["net.1.weight"], (sa["net.1.weight"] + sb["net.1.weight"]) / 2)


def test_curve_of_a_model_with_itself_is_flat(small_splits):
    torch.manual_seed(0)
    model = build_model({"name": "mlp", "depth": 1, "width": 16})
    splits = {"train": small_splits.train, "test": small_splits.test}
    rows = curve(model, model, splits, grid(5))
    losses = [r["loss"] for r in rows if r["split"] == "test"]
    assert max(losses) - min(losses) < 1e-5
    b = barriers_from_curve(rows)
    assert b["train_loss_barrier"] < 1e-5 and b["test_acc_barrier"] > -1e-9


def _curve_model_by_model(model1, model2, splits, ts, bn_x):
    """The definition: build the interpolated model at each t (BN statistics re-estimated at every t, endpoints
    included) and evaluate it on its own."""
    rows = []
    for t in ts:
        model = copy.deepcopy(model1)
        model.load_state_dict(interpolate_state(model1.state_dict(), model2.state_dict(), t))
        if bn_x is not None:
            recompute_bn_stats(model, bn_x)
        for split, data in splits.items():
            loss, acc = evaluate(model, data)
            rows.append({"t": t, "split": split, "loss": loss, "accuracy": acc})
    return rows


@pytest.mark.parametrize("cfg", [
    {"name": "mlp", "depth": 1, "width": 32},
    {"name": "mlp", "depth": 2, "width": 16, "batchnorm": True},
    {"name": "cnn", "depth": 2, "width": 4},
], ids=["mlp", "mlp_bn", "cnn_bn"])
def test_curve_matches_evaluating_each_interpolated_model(small_splits, cfg):
    """The one-pass curve lerps the stem's outputs instead of its weights: same numbers as the definition."""
    torch.manual_seed(0)
    model1, model2 = build_model(cfg), build_model(cfg)
    splits = {"train": small_splits.train, "test": small_splits.test}
    bn_x = small_splits.train.head(500) if has_batchnorm(model1) else None  # the endpoints keep fresh-init statistics
    fast = curve(model1, model2, splits, grid(6), bn_x, batch_size=300)
    slow = _curve_model_by_model(model1, model2, splits, grid(6), bn_x)
    assert [(r["t"], r["split"]) for r in fast] == [(r["t"], r["split"]) for r in slow]
    n_test = len(splits["test"])
    for f, s in zip(fast, slow):
        assert f["loss"] == pytest.approx(s["loss"], rel=1e-5), (f, s)
        assert abs(f["accuracy"] - s["accuracy"]) <= 1 / n_test, (f, s)  # at most one float-level tie flips
    # and the curve is not trivially flat: two random models differ along the path
    assert max(r["loss"] for r in fast) - min(r["loss"] for r in fast) > 1e-3


@pytest.fixture(scope="module")
def text_splits():
    from starlight.data import configured_dataset, data_settings
    from starlight.data.tokens import make_token_splits

    data = {"synthetic_text": {"vocab": 60, "length": 12, "train_size": 400, "test_size": 200}}
    raw = configured_dataset("synthetic_text", data).read("unused")
    return make_token_splits(raw, data_settings("synthetic_text", data).spec, 100, 0)


@pytest.mark.parametrize("cfg", [{"name": "text_bag", "embed_dim": 8},
                                 {"name": "text_cnn", "embed_dim": 6, "filters": 4}], ids=["text_bag", "text_cnn"])
def test_curve_on_text_lerps_the_embeddings_outputs_and_reestimates_nothing(text_splits, cfg):
    """The first-layer shortcut holds for text: the stem is the embedding, linear in its weights, so lerping its
    outputs (a bag's mean of rows, or the rows themselves) is the interpolated model's embedding. BN re-estimation
    is skipped because a text model has no BN: there is nothing to re-estimate."""
    torch.manual_seed(0)
    model1, model2 = build_model(cfg, (60, 12), 4), build_model(cfg, (60, 12), 4)
    assert not has_batchnorm(model1)
    splits = {"train": text_splits.train, "test": text_splits.test}
    fast = curve(model1, model2, splits, grid(5), None, batch_size=70)
    slow = _curve_model_by_model(model1, model2, splits, grid(5), None)
    for f, s in zip(fast, slow, strict=True):
        assert f["loss"] == pytest.approx(s["loss"], rel=1e-5) and abs(f["accuracy"] - s["accuracy"]) <= 1 / 200
    assert max(r["loss"] for r in fast) - min(r["loss"] for r in fast) > 1e-3


BN_EXPERIMENT = job_experiment({"name": "mlp", "depth": 2, "width": 32, "batchnorm": True})


@pytest.fixture(scope="module")
def bn_pair(dataset_file, tmp_path_factory):
    """Two trained BN MLPs, and the same two with their stored running statistics deliberately off."""
    from starlight.io.checkpoint import load_into, save_model
    from starlight.jobs.train import train_job

    out = tmp_path_factory.mktemp("bn-pair")
    for seed in (0, 1):
        train_job(str(dataset_file), BN_EXPERIMENT, "anchor", seed, str(out / f"m{seed}.pt"), str(out / f"m{seed}.json"))
        model = load_into(build_model(BN_EXPERIMENT["model"]), out / f"m{seed}.pt")
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.add_(3.0 + seed)
                m.running_var.mul_(20.0)
        save_model(model, BN_EXPERIMENT["model"], out / f"off{seed}.pt")
    return out


def _barrier(dataset_file, folder, stem1, stem2, tag):
    import pandas as pd

    from starlight.jobs.barrier import pair_job

    curve_csv, barrier_csv = folder / f"{tag}.curve.csv", folder / f"{tag}.barriers.csv"
    pair_job(str(dataset_file), BN_EXPERIMENT, "anchor_heldout", "anchor-0", "anchor-1", str(folder / stem1),
                str(folder / stem2), str(curve_csv), str(barrier_csv))
    return pd.read_csv(curve_csv), pd.read_csv(barrier_csv).iloc[0]


def test_bn_endpoints_are_treated_like_every_other_point(dataset_file, bn_pair):
    """Both curves of a pair share their endpoints, the endpoint columns are the curve's endpoints, and nothing
    depends on the running statistics stored with the models."""
    curves, row = _barrier(dataset_file, bn_pair, "m0.pt", "m1.pt", "stored")
    off_curves, off_row = _barrier(dataset_file, bn_pair, "off0.pt", "off1.pt", "off")
    for t in (0.0, 1.0):
        at = curves[curves["t"] == t].set_index(["split", "aligned"])
        for split in ("train", "test"):
            # model2 aligned is model2 permuted: the same function up to float summation order
            assert at.loc[(split, True), "loss"] == pytest.approx(at.loc[(split, False), "loss"], rel=1e-6, abs=1e-7)
            prefix = "model1" if t == 0.0 else "model2"
            assert row[f"{prefix}_{split}_loss"] == pytest.approx(at.loc[(split, True), "loss"], rel=1e-7)
    numeric = [c for c in row.index if c.endswith(("barrier", "_loss", "_acc"))]
    assert row["train_loss_barrier"] > 0.0
    assert (row[numeric] == off_row[numeric]).all(), (row[numeric] - off_row[numeric]).abs().max()
    assert curves[["loss", "accuracy"]].equals(off_curves[["loss", "accuracy"]])
    assert row["n_bn"] == 500 and row["n_train_eval"] == 2000 and row["n_test_eval"] == 1000
