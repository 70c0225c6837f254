"""Starlight: train one model that is linearly connected to every anchor.

Each SGD step draws one anchor uniformly and t by the configured scheme, evaluates the loss at
θ_t = (1−t)·θ_star + t·θ_anchor and updates only θ_star. θ_t lives in a second copy of the star (`StarPoint`):
each step writes it with one `torch.lerp` per tensor, runs the ordinary forward and backward there, and hands
the gradients it received, scaled by (1−t), to the star's parameters without copying them. That is the
arithmetic of differentiating through `torch.lerp` (its backward is grad·(1−t)), so the star gets exactly
(1−t)·∇L(θ_t), bit for bit as through `torch.func.functional_call`, without re-binding every parameter of the
module at every step. The copy runs BatchNorm in train mode (batch statistics) on its own buffers, so the star's
running statistics are never touched.
"""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from ..data import ImageSet
from .loop import run_sgd
from .optim import training_loss
from .speed import Speed

log = logging.getLogger("starlight")
T_SCHEMES = ("uniform", "beta", "constant")


# realign(star, anchor_state, basis) -> (anchor_state re-permuted onto the star, its new basis)
Realign = Callable[[nn.Module, dict[str, torch.Tensor], Any], tuple[dict[str, torch.Tensor], Any]]


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


class StarPoint:
    """θ_t for the star `model`, held in a copy of it whose BN layers keep their own (scratch) statistics.

    `loss(anchor, t, x, y)` writes θ_t into the copy and returns (the Starlight loss, the logits at θ_t); after
    its backward, `hand_over_gradients()` gives the star (1−t)·∇L(θ_t), plus, with `mu_star`, the gradient of its
    own term. `anchor` is a list of tensors in the order of `model.parameters()` (see `anchor_params`).
    """

    def __init__(self, model: nn.Module, mu_star: float = 0.0, label_smoothing: float = 0.0,
                 speed: Speed | None = None):
        self.model, self.mu_star, self.label_smoothing = model, mu_star, label_smoothing
        self.copy = copy.deepcopy(model).train()
        self.star_params = list(model.parameters())
        self.params = list(self.copy.parameters())
        self.forward = (speed or Speed()).forward(self.copy)
        self.t = 0.0

    @torch.no_grad()
    def move_to(self, anchor: list[torch.Tensor], t: float) -> None:
        """Write θ_t into the copy, in place (its tensors stay the ones autograd and a compiled forward know)."""
        for p, a, q in zip(self.star_params, anchor, self.params, strict=True):
            torch.lerp(p, a, t, out=q)
        self.t = t

    def loss(self, anchor: list[torch.Tensor], t: float, x: torch.Tensor, y: torch.Tensor):
        """(L(θ_t) + μ·L(θ_star)) / (1+μ) on one batch, and the logits at θ_t."""
        self.move_to(anchor, t)
        logits = self.forward(x)
        loss = training_loss(logits, y, self.label_smoothing)
        if self.mu_star > 0:
            scratch = dict(self.copy.named_buffers())  # the star's own parameters, the copy's BN statistics
            own = functional_call(self.model, scratch, (x,))
            loss = (loss + self.mu_star * training_loss(own, y, self.label_smoothing)) / (1.0 + self.mu_star)
        return loss, logits

    @torch.no_grad()
    def hand_over_gradients(self) -> None:
        """star.grad (+)= (1−t)·copy.grad, moving the copy's gradient tensors rather than copying them."""
        pairs = [(p, q.grad) for p, q in zip(self.star_params, self.params) if q.grad is not None]
        grads = [g for _, g in pairs]
        torch._foreach_mul_(grads, 1.0 - self.t)  # what torch.lerp's backward computes: grad·(1−t)
        for (p, g), q in zip(pairs, self.params):
            p.grad = g if p.grad is None else p.grad.add_(g)
        for q in self.params:
            q.grad = None


def anchor_params(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """The anchor's parameters (not buffers), in the order of `model.parameters()`, each on the device and in the
    memory layout of the star's tensor it is interpolated with."""
    with torch.no_grad():
        return [torch.empty_like(p).copy_(state_dict[name]) for name, p in model.named_parameters()]


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
    realign: Realign | None = None,
    bases: list | None = None,
    state_path=None,
    state_tag: str = "",
    checkpoint_every: int = 1,
    realign_first: bool = False,
    realign_every_epoch: bool = True,
    on_record: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Train `model` (the star, already initialised) against `anchors` (full state dicts).

    `realign(star, anchor_state, basis) -> (anchor_state, basis)`, when given, re-permutes every anchor onto the
    current star at the end of each epoch but the last (unless `realign_every_epoch` is false), and with
    `realign_first` also onto the initial star before the first epoch (as the paper's reference code does). `basis` is whatever the callback uses to say how the
    anchor as trained against relates to the anchor as given (None at first); it is kept with the training
    state, and `bases`, when given, receives each anchor's final one. `on_record`: see run_sgd.
    """
    if not anchors:
        raise ValueError(f"{name}: star training needs at least one anchor")
    device = train.device
    speed = Speed.of(cfg)
    speed.prepare(model)
    anchor_states = [{k: v.to(device) for k, v in a.items()} for a in anchors]
    current = [anchor_params(model, a) for a in anchor_states]
    point = StarPoint(model, mu_star, cfg.get("label_smoothing", 0.0), speed)

    def loss_fn(x, y, rng):
        anchor = current[rng.randrange(len(current))]
        return point.loss(anchor, sample_t(t_scheme, rng, t_constant), x, y)

    basis: list = [None] * len(anchors)

    def realign_all(when: str) -> None:
        for i, state in enumerate(anchor_states):
            anchor_states[i], basis[i] = realign(model, state, basis[i])
            current[i] = anchor_params(model, anchor_states[i])
        log.info("%s: re-aligned %d anchors to the star %s", name, len(anchor_states), when)

    def before_epoch(epoch: int) -> None:
        if realign is not None and realign_first and epoch == 0:
            realign_all("before the first epoch")

    def on_epoch_end(epoch: int) -> None:
        if realign is not None and realign_every_epoch and epoch < int(cfg["epochs"]):
            realign_all(f"after epoch {epoch}")

    def extra_state() -> dict:
        return {"anchors": anchor_states, "bases": basis}

    def load_extra_state(extra: dict) -> None:
        saved = [{k: v.to(device) for k, v in state.items()} for state in extra["anchors"]]
        if len(saved) != len(anchor_states):
            raise ValueError(f"it holds {len(saved)} anchors, not {len(anchor_states)}")
        params = [anchor_params(model, state) for state in saved]
        anchor_states[:], current[:], basis[:] = saved, params, extra.get("bases", [None] * len(saved))

    try:
        history = run_sgd(name, model, loss_fn, train, cfg, seed, state_path, extra_state, load_extra_state,
                          on_epoch_end, state_tag, checkpoint_every, after_backward=point.hand_over_gradients,
                          before_epoch=before_epoch, on_record=on_record)
    finally:
        speed.release(model)
    if bases is not None:
        bases[:] = basis
    return history
