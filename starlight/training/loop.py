"""The training loop shared by anchor, held-out and star training, with resumable training state.

Every `checkpoint_every` epochs the full state (model, optimizer, scheduler, epoch, RNG states and the
trainer's own extra state) is written atomically. The data order of an epoch is a pure function of
(seed, epoch), so a run resumed from that state ends bit-identical to an uninterrupted one on the CPU.
"""

from __future__ import annotations

import copy
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data import ImageSet
from ..io.checkpoint import CheckpointError, load_torch, save_torch
from .optim import clip_gradients, make_optimizer, make_scheduler, training_loss
from .speed import Speed

log = logging.getLogger("starlight")


class DivergenceError(RuntimeError):
    """The training loss became NaN or infinite."""


class NonFiniteLoss(ArithmeticError):
    """Raised by `sgd_step` before any update when the batch's loss is NaN or infinite."""

    def __init__(self, value: float):
        super().__init__(f"loss is {value}")
        self.value = value


LossFn = Callable[[torch.Tensor, torch.Tensor, random.Random], tuple[torch.Tensor, torch.Tensor]]


def sgd_step(loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, rng: random.Random, opt: torch.optim.Optimizer,
             params: list[torch.Tensor], cfg: dict, after_backward: Callable[[], None] | None = None,
             speed: Speed | None = None):
    """One optimisation step on one batch: loss (under the `speed` options), backward, (after_backward),
    clipping, update. Returns (loss, logits); raises NonFiniteLoss, with nothing updated, when the loss is not
    finite."""
    speed = speed or Speed()
    with speed.autocast(x.device):
        loss, logits = loss_fn(speed.inputs(x), y, rng)
    if not torch.isfinite(loss):
        raise NonFiniteLoss(loss.item())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if after_backward is not None:
        after_backward()
    clip_gradients(params, cfg)
    opt.step()
    return loss, logits


def _rng_state() -> dict:
    py = random.getstate()
    np_state = np.random.get_state()
    state = {
        "python": (py[0], list(py[1]), py[2]),
        "numpy": (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


STATE_KEYS = {"model", "optimizer", "scheduler", "rng", "extra", "epoch", "history", "tag"}


def run_sgd(
    name: str,
    model: nn.Module,
    loss_fn: LossFn,
    train: ImageSet,
    cfg: dict,
    seed: int,
    state_path: str | Path | None = None,
    extra_state: Callable[[], dict] | None = None,
    load_extra_state: Callable[[dict], None] | None = None,
    on_epoch_end: Callable[[int], None] | None = None,
    state_tag: str = "",
    checkpoint_every: int = 1,
    after_backward: Callable[[], None] | None = None,
    before_epoch: Callable[[int], None] | None = None,
    steps: int | None = None,
    on_record: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Train `model`'s parameters with SGD on `loss_fn(x, y, rng) -> (loss, logits)`.

    `rng` is a per-epoch `random.Random` for the trainer's own draws (the star's anchor and t).
    `after_backward()`, when given, runs after each backward pass, before clipping and the update (the star
    hands over the gradients its interpolated copy received).
    A saved state is resumed only if it carries the same `state_tag` (a hash of the job's config), so
    a state left by a killed run is never continued under an edited config. The state is saved every
    `checkpoint_every` epochs (0: never).
    `before_epoch(epoch)` runs before each epoch that is trained (0-based; never for epochs a resumed state
    holds). `steps`, when given, is the whole training budget in steps: the schedule spans it and training stops
    after it, within an epoch if need be (a quality-matched control's shorter schedule); else `cfg["epochs"]`
    whole epochs. `on_record(record)`, when given, receives each epoch's record of the history as it is made
    (experiment tracking); it must change neither the record nor the model.
    Returns the per-epoch history. Raises DivergenceError on a non-finite loss (and drops the state).
    """
    batch_size = int(cfg["batch_size"])
    steps_per_epoch = train.steps_per_epoch(batch_size)
    total_steps = int(steps) if steps is not None else int(cfg["epochs"]) * steps_per_epoch
    epochs = -(-total_steps // steps_per_epoch)
    speed = Speed.of(cfg)
    params = list(model.parameters())
    opt = make_optimizer(params, cfg)
    sched = make_scheduler(opt, cfg, total_steps, steps_per_epoch)
    every = int(checkpoint_every or 0)
    history: list[dict] = []
    start_epoch = 0

    state_path = Path(state_path) if state_path else None
    if state_path is not None and state_path.exists():
        initial_model, initial_rng = copy.deepcopy(model.state_dict()), _rng_state()
        try:
            state = load_torch(state_path)
            if not isinstance(state, dict) or not STATE_KEYS <= set(state):
                raise ValueError(f"it lacks {', '.join(sorted(STATE_KEYS - set(state or {})))}")
            if state["tag"] != state_tag:
                raise ValueError("it was saved under another config")
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            _set_rng_state(state["rng"])
            if load_extra_state is not None:
                load_extra_state(state["extra"])
            start_epoch, history = int(state["epoch"]), list(state["history"])
            log.info("%s: resumed from %s at epoch %d/%d", name, state_path, start_epoch, epochs)
        except (CheckpointError, KeyError, RuntimeError, ValueError, TypeError, AttributeError) as exc:
            log.warning("%s: ignoring unusable training state %s (%s); starting afresh", name, state_path, exc)
            model.load_state_dict(initial_model)  # undo whatever the partial load changed
            _set_rng_state(initial_rng)
            state_path.unlink(missing_ok=True)
            return run_sgd(name, model, loss_fn, train, cfg, seed, state_path, extra_state, load_extra_state,
                           on_epoch_end, state_tag, checkpoint_every, after_backward, before_epoch, steps, on_record)

    for epoch in range(start_epoch, epochs):
        if before_epoch is not None:
            before_epoch(epoch)
        t0 = time.perf_counter()
        model.train()
        rng = random.Random(seed * 7919 + epoch)
        loss_sum = torch.zeros((), device=train.device)
        correct = torch.zeros((), device=train.device, dtype=torch.long)
        n = 0
        for step, (x, y) in enumerate(train.epoch(batch_size, seed, epoch)):
            if epoch * steps_per_epoch + step >= total_steps:
                break
            try:
                loss, logits = sgd_step(loss_fn, x, y, rng, opt, params, cfg, after_backward, speed)
            except NonFiniteLoss as exc:
                if state_path is not None:
                    state_path.unlink(missing_ok=True)
                raise DivergenceError(
                    f"{name}: loss is {exc.value} at epoch {epoch + 1}, step {step + 1}; training diverged "
                    f"(lower the learning rate?)"
                ) from None
            sched.step()
            loss_sum += loss.detach() * x.shape[0]
            correct += (logits.detach().argmax(1) == y).sum()
            n += x.shape[0]
        record = {"epoch": epoch + 1, "loss": loss_sum.item() / n, "acc": correct.item() / n,
                  "lr": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - t0}
        history.append(record)
        log.info("%s epoch %d/%d loss %.4f acc %.4f lr %.4g %.2fs", name, epoch + 1, epochs,
                 record["loss"], record["acc"], record["lr"], record["seconds"])
        if on_record is not None:
            on_record(record)
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1)
        if state_path is not None and every and (epoch + 1) % every == 0 and epoch + 1 < epochs:
            save_torch({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                        "rng": _rng_state(), "extra": extra_state() if extra_state else {},
                        "epoch": epoch + 1, "history": history, "tag": state_tag}, state_path)
    return history


def train_classifier(name: str, model: nn.Module, train: ImageSet, cfg: dict, seed: int,
                     state_path: str | Path | None = None, state_tag: str = "", checkpoint_every: int = 1,
                     steps: int | None = None, on_record: Callable[[dict], None] | None = None) -> list[dict]:
    """Ordinary SGD training: the anchors, held-out models and quality-matched controls (`steps`, `on_record`: see
    run_sgd)."""

    speed = Speed.of(cfg)
    forward = speed.forward(speed.prepare(model))

    def loss_fn(x, y, rng):
        logits = forward(x)
        return training_loss(logits, y, cfg.get("label_smoothing", 0.0)), logits

    try:
        return run_sgd(name, model, loss_fn, train, cfg, seed, state_path, state_tag=state_tag,
                       checkpoint_every=checkpoint_every, steps=steps, on_record=on_record)
    finally:
        speed.release(model)
