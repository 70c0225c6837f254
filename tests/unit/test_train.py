import logging

import pytest
import torch

from starlight.io.checkpoint import load_torch
from starlight.measure.metrics import evaluate
from starlight.models import build_model
from starlight.training.loop import DivergenceError, train_classifier

CFG = {"epochs": 2, "batch_size": 64, "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
       "schedule": "cosine", "checkpoint_every": 1}
MLP = {"name": "mlp", "depth": 1, "width": 32}


def fresh(seed=0):
    torch.manual_seed(seed)
    return build_model(MLP)


def test_sgd_learns_fashion_mnist(small_splits):
    model = fresh()
    history = train_classifier("m", model, small_splits.train, CFG, seed=0)
    assert [h["epoch"] for h in history] == [1, 2] and history[1]["loss"] < history[0]["loss"]
    assert evaluate(model, small_splits.test)[1] > 0.7


def test_state_of_another_config_is_not_resumed(small_splits, tmp_path, caplog):
    train = small_splits.train
    reference = fresh()
    train_classifier("m", reference, train, CFG, seed=0)

    # a run under another config (tag "old") leaves its state after epoch 1 ...
    state = tmp_path / "state.pt"
    train_classifier("m", fresh(), train, {**CFG, "epochs": 3, "lr": 0.3}, seed=0, state_path=state, state_tag="old")
    assert load_torch(state)["tag"] == "old"  # (epoch 2 of 3 was the last save)
    # ... which the run under the current config ignores: same result as never having had one
    model = fresh()
    with caplog.at_level(logging.WARNING, logger="starlight"):
        train_classifier("m", model, train, CFG, seed=0, state_path=state, state_tag="new")
    assert "saved under another config" in caplog.text
    for a, b in zip(model.state_dict().values(), reference.state_dict().values()):
        assert torch.equal(a, b)


def test_divergence_names_model_epoch_and_step(small_splits, tmp_path):
    state = tmp_path / "state.pt"
    cfg = {**CFG, "epochs": 3, "lr": 1e6, "momentum": 0.0, "nesterov": False}
    with pytest.raises(DivergenceError, match=r"anchor-3: loss is (nan|inf) at epoch 1, step \d+; training diverged"):
        train_classifier("anchor-3", fresh(), small_splits.train, cfg, seed=0,
                         state_path=state)
    assert not state.exists()


def test_incomplete_state_is_discarded_without_side_effects(small_splits, tmp_path):
    """A state that loads half-way (weights present, scheduler missing) must not leave its weights behind."""
    train = small_splits.train
    reference = fresh()
    train_classifier("m", reference, train, CFG, seed=0)

    state = tmp_path / "state.pt"
    train_classifier("m", fresh(), train, {**CFG, "epochs": 3}, seed=0, state_path=state)
    broken = load_torch(state)
    del broken["scheduler"]
    torch.save(broken, state)
    model = fresh()
    train_classifier("m", model, train, CFG, seed=0, state_path=state)
    for a, b in zip(model.state_dict().values(), reference.state_dict().values()):
        assert torch.equal(a, b)
