import random

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from starlight.barrier import barriers_from_curve, curve, grid
from starlight.metrics import evaluate
from starlight.models import build_model
from starlight.star import interpolated_params, sample_t, star_loss, train_star
from starlight.train import train_classifier

TRAIN = {"epochs": 3, "batch_size": 64, "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
         "schedule": "cosine"}


@pytest.mark.parametrize("batchnorm", [False, True])
def test_star_gradient_is_one_minus_t_times_gradient_at_theta_t(batchnorm):
    torch.manual_seed(0)
    cfg = {"name": "mlp", "depth": 2, "width": 16, "batchnorm": batchnorm}
    star, anchor = build_model(cfg).train(), build_model(cfg).train()
    anchor_p = {k: v.detach() for k, v in anchor.named_parameters()}
    x, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    t = 0.3
    scratch = {k: v.clone() for k, v in star.named_buffers()}
    loss, _ = star_loss(star, anchor_p, t, x, y, scratch)
    loss.backward()

    # Reference: a separate model sitting at θ_t, plain autograd there.
    probe = build_model(cfg).train()
    with torch.no_grad():
        for (name, p), q in zip(star.named_parameters(), probe.parameters()):
            q.copy_((1 - t) * p + t * anchor_p[name])
    F.cross_entropy(probe(x), y).backward()
    for (name, p), q in zip(star.named_parameters(), probe.parameters()):
        assert torch.allclose(p.grad, (1 - t) * q.grad, atol=1e-6), name


def test_interpolated_forward_leaves_star_running_stats_alone():
    torch.manual_seed(0)
    cfg = {"name": "mlp", "depth": 1, "width": 8, "batchnorm": True}
    star, anchor = build_model(cfg).train(), build_model(cfg)
    before = {k: v.clone() for k, v in star.named_buffers()}
    scratch = {k: v.clone() for k, v in star.named_buffers()}
    anchor_p = {k: v.detach() for k, v in anchor.named_parameters()}
    star_loss(star, anchor_p, 0.5, torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,)), scratch, mu_star=1.0)
    for k, v in star.named_buffers():
        assert torch.equal(v, before[k]), k


def test_interpolated_params_endpoints():
    a = {"w": torch.randn(3, 3)}
    b = {"w": torch.randn(3, 3)}
    assert torch.equal(interpolated_params(a, b, 0.0)["w"], a["w"])
    assert torch.allclose(interpolated_params(a, b, 1.0)["w"], b["w"])


def test_t_schemes():
    rng = random.Random(0)
    assert sample_t("constant", rng) == 0.5
    draws = [sample_t("beta", rng) for _ in range(4000)]
    assert all(0 <= d <= 1 for d in draws)
    assert abs(sum(draws) / len(draws) - 0.5) < 0.02
    var = sum((d - 0.5) ** 2 for d in draws) / len(draws)
    assert abs(var - 0.05) < 0.01  # Beta(2,2) has variance 1/20
    with pytest.raises(ValueError):
        sample_t("cubic", rng)


def _mean_path_loss(model, anchors, x, y, ts=(0.25, 0.5, 0.75)):
    params = {k: v.detach() for k, v in model.named_parameters()}
    losses = []
    with torch.no_grad():
        for a in anchors:
            ap = {k: a[k] for k in params}
            for t in ts:
                out = functional_call(model, interpolated_params(params, ap, t), (x,))
                losses.append(F.cross_entropy(out, y).item())
    return sum(losses) / len(losses)


def test_star_training_lowers_interpolated_loss(small_splits):
    train = small_splits.train
    x, y = train.normalised(), train.labels
    cfg = {"name": "mlp", "depth": 1, "width": 32}
    anchors = []
    for seed in range(2):
        torch.manual_seed(seed)
        m = build_model(cfg)
        train_classifier(f"anchor-{seed}", m, train, TRAIN, seed)
        anchors.append(m.state_dict())
    torch.manual_seed(10)
    star = build_model(cfg)
    before = _mean_path_loss(star, anchors, x, y)
    train_star("star", star, anchors, train, TRAIN, seed=10)
    after = _mean_path_loss(star, anchors, x, y)
    assert after < 0.5 * before, (before, after)
    # and the star is a solution itself
    _, acc = evaluate(star, small_splits.test)
    assert acc > 0.7
    # the path star -> anchor has a small barrier (it was trained for it)
    rows = curve(star, _load(cfg, anchors[0]), {"train": train, "test": small_splits.test}, grid(5))
    assert barriers_from_curve(rows)["train_loss_barrier"] < 0.05


def _load(cfg, state):
    m = build_model(cfg)
    m.load_state_dict(state)
    return m.eval()
