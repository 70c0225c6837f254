"""Merged anchors: k solutions brought into one basis by weight matching and averaged, the cheap alternative to a star.

The merge follows Git Re-Basin's MergeMany: start from the models as trained, then, round after round, align each
model in turn onto the mean of the others (weight matching, as every pair is aligned), until a round changes no
model or `rounds` rounds have run. The merged model is the element-wise mean of the aligned weights; its BN
statistics are left to the caller to re-estimate (a mean of running statistics describes no network).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn


def average_states(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of floating-point tensors; other tensors (BN's batch counters) from the first state."""
    return {k: torch.stack([s[k] for s in states]).mean(0) if states[0][k].is_floating_point() else states[0][k]
            for k in states[0]}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def merge_many(models: list[nn.Module], align: Callable[[nn.Module, nn.Module], nn.Module], rounds: int
               ) -> tuple[nn.Module, dict]:
    """Merge `models` (same architecture): `align(reference, model)` returns `model` permuted onto `reference`.

    Returns (a new model holding the mean of the aligned weights, {"rounds": rounds run, "converged": whether the
    last round changed nothing}). One model is returned as it is (a copy)."""
    if not models:
        raise ValueError("merging needs at least one model")
    states = [{k: v.clone() for k, v in m.state_dict().items()} for m in models]
    reference = copy.deepcopy(models[0])
    done, converged = 0, len(models) == 1
    while not converged and done < rounds:
        done += 1
        converged = True
        for i in range(len(states)):
            reference.load_state_dict(average_states(states[:i] + states[i + 1:]))
            model = copy.deepcopy(models[i])
            model.load_state_dict(states[i])
            aligned = align(reference, model).state_dict()
            converged &= _same(aligned, states[i])
            states[i] = {k: v.clone() for k, v in aligned.items()}
    reference.load_state_dict(average_states(states))
    return reference, {"rounds": done, "converged": converged}
