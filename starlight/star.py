"""Starlight: train one model that is linearly connected to every anchor.

Each SGD step draws one anchor uniformly and t by the configured scheme, evaluates the loss at
θ_t = (1−t)·θ_star + t·θ_anchor and updates only θ_star. θ_t is built functionally with `torch.lerp`,
so autograd gives the star the gradient (1−t)·∇L(θ_t); the anchors are constants. The interpolated
forward pass runs BatchNorm in train mode (batch statistics) on scratch buffers, so it never touches
the star's own running statistics.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call

from .data import ImageSet
from .optim import training_loss
from .train import run_sgd

log = logging.getLogger("starlight")
T_SCHEMES = ("uniform", "beta", "constant")


def sample_t(scheme: str, rng: random.Random, constant: float = 0.5) -> float:
    if scheme == "uniform":
        return rng.random()
    if scheme == "beta":
        return rng.betavariate(2.0, 2.0)
    if scheme == "constant":
        return constant
    raise ValueError(f"unknown t scheme {scheme!r}; expected one of {', '.join(T_SCHEMES)}")


def interpolated_params(star: dict[str, torch.Tensor], anchor: dict[str, torch.Tensor], t: float):
    """θ_t = (1−t)·θ_star + t·θ_anchor, one fused lerp per tensor; differentiable in θ_star."""
    return {name: torch.lerp(p, anchor[name], t) for name, p in star.items()}


def star_loss(model: nn.Module, anchor: dict[str, torch.Tensor], t: float, x: torch.Tensor, y: torch.Tensor,
              scratch_buffers: dict[str, torch.Tensor], mu_star: float = 0.0, label_smoothing: float = 0.0):
    """The Starlight objective for one batch: (L(θ_t) + μ·L(θ_star)) / (1+μ). Returns (loss, logits at θ_t)."""
    params = dict(model.named_parameters())
    logits = functional_call(model, {**interpolated_params(params, anchor, t), **scratch_buffers}, (x,))
    loss = training_loss(logits, y, label_smoothing)
    if mu_star > 0:
        own = functional_call(model, {**params, **scratch_buffers}, (x,))
        loss = (loss + mu_star * training_loss(own, y, label_smoothing)) / (1.0 + mu_star)
    return loss, logits


def anchor_params(model: nn.Module, state_dict: dict[str, torch.Tensor], device) -> dict[str, torch.Tensor]:
    """The anchor's parameters (not buffers), detached, on the training device."""
    names = {name for name, _ in model.named_parameters()}
    return {k: v.detach().to(device) for k, v in state_dict.items() if k in names}


def train_star(
    name: str,
    model: nn.Module,
    anchors: list[dict[str, torch.Tensor]],
    train: ImageSet,
    cfg: dict,
    seed: int,
    t_scheme: str = "uniform",
    t_constant: float = 0.5,
    mu_star: float = 0.0,
    realign: Callable[[nn.Module, dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
    state_path=None,
    state_tag: str = "",
    checkpoint_every: int = 1,
) -> list[dict]:
    """Train `model` (the star, already initialised) against `anchors` (full state dicts).

    `realign(star, anchor_state) -> anchor_state`, when given, re-permutes every anchor onto the
    current star at the end of each epoch.
    """
    if not anchors:
        raise ValueError(f"{name}: star training needs at least one anchor")
    device = train.device
    anchor_states = [{k: v.to(device) for k, v in a.items()} for a in anchors]
    current = [anchor_params(model, a, device) for a in anchor_states]
    scratch = {k: v.detach().clone() for k, v in model.named_buffers()}

    def loss_fn(x, y, rng):
        anchor = current[rng.randrange(len(current))]
        t = sample_t(t_scheme, rng, t_constant)
        return star_loss(model, anchor, t, x, y, scratch, mu_star, cfg.get("label_smoothing", 0.0))

    def on_epoch_end(epoch: int) -> None:
        if realign is None or epoch >= int(cfg["epochs"]):
            return
        for i, state in enumerate(anchor_states):
            anchor_states[i] = realign(model, state)
            current[i] = anchor_params(model, anchor_states[i], device)
        log.info("%s: re-aligned %d anchors to the star after epoch %d", name, len(anchor_states), epoch)

    def extra_state() -> dict:
        return {"anchors": anchor_states}

    def load_extra_state(extra: dict) -> None:
        saved = [{k: v.to(device) for k, v in state.items()} for state in extra["anchors"]]
        if len(saved) != len(anchor_states):
            raise ValueError(f"it holds {len(saved)} anchors, not {len(anchor_states)}")
        params = [anchor_params(model, state, device) for state in saved]
        anchor_states[:], current[:] = saved, params  # all or nothing

    return run_sgd(name, model, loss_fn, train, cfg, seed, state_path,
                   extra_state, load_extra_state, on_epoch_end, state_tag, checkpoint_every)
