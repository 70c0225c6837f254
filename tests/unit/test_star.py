import random

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from starlight.data import ImageSet
from starlight.measure.barrier import barriers_from_curve, curve, grid
from starlight.measure.metrics import evaluate
from starlight.models import build_model
from starlight.training.loop import run_sgd, train_classifier
from starlight.training.star import StarPoint, anchor_params, interpolated_params, sample_t, train_star

TRAIN = {"epochs": 3, "batch_size": 64, "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
         "schedule": "cosine"}


def _reference_at(cfg, star, anchor, t):
    """A separate model sitting at θ_t (plain autograd there)."""
    probe = build_model(cfg).train()
    with torch.no_grad():
        for (name, p), q in zip(star.named_parameters(), probe.parameters()):
            q.copy_((1 - t) * p + t * anchor[name])
    return probe


@pytest.mark.parametrize("batchnorm", [False, True])
def test_star_gradient_is_one_minus_t_times_gradient_at_theta_t(batchnorm):
    torch.manual_seed(0)
    cfg = {"name": "mlp", "depth": 2, "width": 16, "batchnorm": batchnorm}
    star, anchor = build_model(cfg).train(), build_model(cfg).train()
    x, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    t = 0.3
    point = StarPoint(star)
    loss, _ = point.loss(anchor_params(star, anchor.state_dict()), t, x, y)
    loss.backward()
    point.hand_over_gradients()

    probe = _reference_at(cfg, star, anchor.state_dict(), t)
    F.cross_entropy(probe(x), y).backward()
    for (name, p), q in zip(star.named_parameters(), probe.parameters()):
        assert torch.allclose(p.grad, (1 - t) * q.grad, atol=1e-6), name
    assert all(q.grad is None for q in point.copy.parameters())  # handed over, not left behind


def test_star_gradient_with_its_own_term():
    """mu_star > 0: (1−t)/(1+μ)·∇L(θ_t) + μ/(1+μ)·∇L(θ_star), both with BN on batch statistics."""
    torch.manual_seed(0)
    cfg = {"name": "mlp", "depth": 2, "width": 16, "batchnorm": True}
    star, anchor = build_model(cfg).train(), build_model(cfg).train()
    x, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    t, mu = 0.6, 0.5
    point = StarPoint(star, mu_star=mu)
    point.loss(anchor_params(star, anchor.state_dict()), t, x, y)[0].backward()
    point.hand_over_gradients()

    at_t, own = _reference_at(cfg, star, anchor.state_dict(), t), _reference_at(cfg, star, anchor.state_dict(), 0.0)
    F.cross_entropy(at_t(x), y).backward()
    F.cross_entropy(own(x), y).backward()
    for (name, p), q, r in zip(star.named_parameters(), at_t.parameters(), own.parameters()):
        expected = ((1 - t) * q.grad + mu * r.grad) / (1 + mu)
        assert torch.allclose(p.grad, expected, atol=1e-6), name


def test_interpolated_forward_leaves_star_running_stats_alone():
    torch.manual_seed(0)
    cfg = {"name": "mlp", "depth": 1, "width": 8, "batchnorm": True}
    star, anchor = build_model(cfg).train(), build_model(cfg)
    before = {k: v.clone() for k, v in star.named_buffers()}
    point = StarPoint(star, mu_star=1.0)
    loss, _ = point.loss(anchor_params(star, anchor.state_dict()), 0.5, torch.randn(16, 1, 28, 28),
                         torch.randint(0, 10, (16,)))
    loss.backward()
    point.hand_over_gradients()
    for k, v in star.named_buffers():
        assert torch.equal(v, before[k]), k
    assert not torch.equal(point.copy.net[2].running_mean, before["net.2.running_mean"])  # the copy's moved


def _functional_star(name, model, anchors, train, cfg, seed):
    """The definition, as star training computed it before: θ_t built by torch.lerp inside autograd and bound
    to the module with functional_call (BN on scratch buffers)."""
    current = [{k: v for k, v in a.items() if k in dict(model.named_parameters())} for a in anchors]
    scratch = {k: v.detach().clone() for k, v in model.named_buffers()}

    def loss_fn(x, y, rng):
        anchor = current[rng.randrange(len(current))]
        t = sample_t("uniform", rng)
        theta_t = interpolated_params(dict(model.named_parameters()), anchor, t)
        logits = functional_call(model, {**theta_t, **scratch}, (x,))
        return F.cross_entropy(logits, y), logits

    return run_sgd(name, model, loss_fn, train, cfg, seed)


@pytest.mark.parametrize("cfg", [{"name": "mlp", "depth": 2, "width": 16, "batchnorm": True},
                                 {"name": "cnn", "depth": 2, "width": 4}], ids=["mlp_bn", "cnn_bn"])
def test_star_training_is_bit_identical_to_the_functional_definition(small_splits, cfg):
    """The copy-and-hand-over step computes what differentiating through torch.lerp computes, bit for bit."""
    train = ImageSet(small_splits.train.images[:256], small_splits.train.labels[:256], small_splits.train.mean,
                     small_splits.train.std)
    anchors = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        anchors.append(build_model(cfg).state_dict())
    stars = []
    for trainer in (train_star, _functional_star):
        torch.manual_seed(10)
        star = build_model(cfg)
        trainer("star", star, anchors, train, {**TRAIN, "epochs": 2}, 10)
        stars.append(star.state_dict())
    for k, v in stars[0].items():
        assert torch.equal(v, stars[1][k]), k


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
