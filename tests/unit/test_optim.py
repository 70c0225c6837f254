"""Training options: optimizers, label smoothing, gradient clipping; stars take the same through star.train."""

import pytest
import torch
import torch.nn.functional as F

from starlight.measure.metrics import evaluate
from starlight.models import build_model
from starlight.training.loop import train_classifier
from starlight.training.optim import make_optimizer, optimizer_settings, training_loss
from starlight.training.star import train_star

MLP = {"name": "mlp", "depth": 1, "width": 32}
BASE = {"epochs": 2, "batch_size": 64, "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
        "schedule": "cosine", "warmup_steps": 0}


def fresh(seed=0):
    torch.manual_seed(seed)
    return build_model(MLP)


@pytest.mark.parametrize("optimizer,lr", [("adam", 2e-3), ("adamw", 2e-3)])
def test_adam_family_learns(small_splits, optimizer, lr):
    model = fresh()
    history = train_classifier("m", model, small_splits.train, {**BASE, "optimizer": optimizer, "lr": lr}, seed=0)
    assert history[1]["loss"] < history[0]["loss"]
    assert evaluate(model, small_splits.test)[1] > 0.7


def test_adamw_decouples_weight_decay_and_adam_does_not():
    """With a zero gradient, AdamW still shrinks the weights by lr·wd; Adam's L2 term goes through the
    normalised update instead (a step of about lr in the sign of w, whatever wd is)."""
    for name, expected in (("adamw", lambda w: w * (1 - 0.1 * 0.5)), ("adam", lambda w: w - 0.1 * torch.sign(w))):
        w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        opt = make_optimizer([w], {"optimizer": name, "lr": 0.1, "weight_decay": 0.5})
        w.grad = torch.zeros(2)
        start = w.detach().clone()
        opt.step()
        assert torch.allclose(w.detach(), expected(start), atol=1e-4), name


def test_label_smoothing_is_the_smoothed_cross_entropy():
    logits, y = torch.randn(8, 10), torch.randint(0, 10, (8,))
    target = torch.full((8, 10), 0.1 / 10).scatter_(1, y[:, None], 1 - 0.1 + 0.1 / 10)
    manual = -(target * F.log_softmax(logits, 1)).sum(1).mean()
    assert training_loss(logits, y, 0.1).item() == pytest.approx(manual.item(), rel=1e-6)
    assert torch.equal(training_loss(logits, y), F.cross_entropy(logits, y))


def test_label_smoothing_changes_training(small_splits):
    plain, smoothed = fresh(), fresh()
    train_classifier("m", plain, small_splits.train, {**BASE, "epochs": 1}, seed=0)
    train_classifier("m", smoothed, small_splits.train, {**BASE, "epochs": 1, "label_smoothing": 0.2}, seed=0)
    assert not torch.equal(plain.net[1].weight, smoothed.net[1].weight)


def test_gradient_clipping_bounds_every_step(small_splits):
    """Plain SGD (no momentum, no decay, lr 1) with the norm clipped at 1e-3: one step moves θ by at most 1e-3."""
    train = small_splits.train
    one_batch = type(train)(train.images[:64], train.labels[:64], train.mean, train.std)
    cfg = {**BASE, "epochs": 1, "lr": 1.0, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0,
           "schedule": "constant", "grad_clip": 1e-3}
    model = fresh()
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    train_classifier("m", model, one_batch, cfg, seed=0)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert (after - before).norm().item() == pytest.approx(1e-3, rel=1e-3)  # the raw gradient is far larger


def test_star_takes_the_same_options(small_splits):
    anchors = []
    for seed in (0, 1):
        m = fresh(seed)
        train_classifier(f"a{seed}", m, small_splits.train, {**BASE, "epochs": 1}, seed=seed)
        anchors.append(m.state_dict())
    cfg = {**BASE, "optimizer": "adamw", "lr": 2e-3, "label_smoothing": 0.1, "grad_clip": 5.0}
    star = fresh(7)
    history = train_star("star", star, anchors, small_splits.train, cfg, seed=7)
    assert history[1]["loss"] < history[0]["loss"]
    assert evaluate(star, small_splits.test)[1] > 0.6


def test_settings_an_optimizer_ignores_are_dropped():
    sgd = {**BASE, "optimizer": "sgd", "betas": [0.8, 0.9]}
    adam = {**BASE, "optimizer": "adam", "betas": [0.8, 0.9]}
    assert "betas" not in optimizer_settings(sgd) and optimizer_settings(sgd)["momentum"] == 0.9
    assert "momentum" not in optimizer_settings(adam) and "nesterov" not in optimizer_settings(adam)
    assert optimizer_settings(adam)["betas"] == [0.8, 0.9]
