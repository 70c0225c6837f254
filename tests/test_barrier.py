import copy
import itertools
import math

import pytest
import torch

from starlight.barrier import barrier, barriers_from_curve, curve, grid, interpolate_state
from starlight.bn import recompute_bn_stats
from starlight.metrics import evaluate
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
    """The definition: build the interpolated model at each t and evaluate it on its own."""
    rows = []
    for t in ts:
        model = copy.deepcopy(model1)
        model.load_state_dict(interpolate_state(model1.state_dict(), model2.state_dict(), t))
        if bn_x is not None and 0.0 < t < 1.0:
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
    bn_x = small_splits.train.head(500) if has_batchnorm(model1) else None
    if bn_x is not None:  # give the endpoints real statistics, as trained models have
        recompute_bn_stats(model1, bn_x)
        recompute_bn_stats(model2, bn_x)
    fast = curve(model1, model2, splits, grid(6), bn_x, batch_size=300)
    slow = _curve_model_by_model(model1, model2, splits, grid(6), bn_x)
    assert [(r["t"], r["split"]) for r in fast] == [(r["t"], r["split"]) for r in slow]
    n_test = len(splits["test"])
    for f, s in zip(fast, slow):
        assert f["loss"] == pytest.approx(s["loss"], rel=1e-5), (f, s)
        assert abs(f["accuracy"] - s["accuracy"]) <= 1 / n_test, (f, s)  # at most one float-level tie flips
    # and the curve is not trivially flat: two random models differ along the path
    assert max(r["loss"] for r in fast) - min(r["loss"] for r in fast) > 1e-3
