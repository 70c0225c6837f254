"""Weight-matching alignment: permute one model's hidden units onto another's without changing its function.

Two methods, chosen by `method` (config `alignment.method`):

- "matching" (default): our engine. `groups.permutation_spec` derives every permutation group from the
  traced model (residual streams, concatenations and flattens included; unknown layers are an error),
  `matching.match` runs Git Re-Basin's coordinate descent, `apply.apply_permutations` permutes the state
  dict, BN buffers included.
- "rebasin": the `rebasin` package with our repairs (`rebasin.py`), kept for comparison. It misses
  residual streams.

Either way the aligned model is checked to compute the same function as the input, and an error is
raised if it does not. Both methods first refuse (`refusals.py`) a model wrapped in DataParallel or
DistributedDataParallel (TypeError: pass `.module`) and weights shared between modules (UnsupportedLayerError
naming both).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from .apply import Permutations, apply_permutations, compose, identity, invert
from .check import check_same_function
from .groups import permutation_spec
from .matching import match
from .rebasin import rebasin_align
from .refusals import refuse_shared_weights, refuse_wrapped
from .spec import Group, Member, PermutationSpec, UnsupportedLayerError

__all__ = ["DEFAULT_METHOD", "METHODS", "Group", "Member", "PermutationSpec", "Permutations", "UnsupportedLayerError",
           "align", "align_with_permutations", "apply_permutations", "compose", "identity", "invert", "match",
           "permutation_spec"]


def matching_align(reference: nn.Module, model: nn.Module, example_input: torch.Tensor, *, seed: int = 0,
                   max_iterations: int = 100) -> tuple[nn.Module, Permutations]:
    """Our engine: spec from the traced model, coordinate descent on the parameters, permuted state dict."""
    spec = permutation_spec(model, example_input)
    reference_weights = {k: p.detach() for k, p in reference.named_parameters()}
    model_weights = {k: p.detach() for k, p in model.named_parameters()}
    perms = match(spec, reference_weights, model_weights, seed=seed, max_iterations=max_iterations)
    return _copy_with_state(model, apply_permutations(model.state_dict(), spec, perms)), perms


def _copy_with_state(model: nn.Module, state: dict[str, torch.Tensor]) -> nn.Module:
    """A deep copy of `model` holding the tensors of `state`: new tensors are taken as they are, not copied
    a second time; those `model` still holds are copied."""
    own = {t.data_ptr() for t in model.state_dict().values()}
    taken = {k: v if v.data_ptr() not in own else v.clone() for k, v in state.items()}
    memo: dict[int, object] = {}
    for name, p in model.named_parameters():
        memo[id(p)] = nn.Parameter(taken[name], requires_grad=p.requires_grad)
    for name, b in model.named_buffers():
        if name in taken:
            memo[id(b)] = taken[name]
    return copy.deepcopy(model, memo)


METHODS: dict[str, Callable[..., tuple[nn.Module, Permutations]]] = {
    "matching": matching_align,
    "rebasin": rebasin_align,
}
DEFAULT_METHOD = "matching"


def align(reference: nn.Module, model: nn.Module, example_input: torch.Tensor, *, seed: int = 0,
          method: str = DEFAULT_METHOD, max_iterations: int = 100) -> nn.Module:
    """Return a copy of `model` with its hidden units permuted to match `reference`.

    The copy computes the same function as `model` (a pure re-parametrisation, BN running statistics
    included); `reference` and `model` are left untouched. `example_input` is used to trace the
    architecture and to check the result. Identical arguments give an identical state dict.
    """
    aligned, _ = align_with_permutations(reference, model, example_input, seed=seed, method=method,
                                         max_iterations=max_iterations)
    return aligned


def align_with_permutations(reference: nn.Module, model: nn.Module, example_input: torch.Tensor, *,
                            seed: int = 0, method: str = DEFAULT_METHOD, max_iterations: int = 100
                            ) -> tuple[nn.Module, Permutations]:
    """Like `align`, but also return the permutations found.

    The dict maps each group's name (the layer that first produces its units, e.g. "net.1" or
    "layer1.0.conv2") to indices `perm` with: unit i of the aligned model is unit perm[i] of `model`,
    i.e. aligned.weight == model.weight[perm] for that layer. With method "matching",
    `apply_permutations(model.state_dict(), permutation_spec(model, x), perms)` re-applies them.
    """
    if method not in METHODS:
        raise ValueError(f"unknown alignment method {method!r}; expected one of {', '.join(METHODS)}")
    for argument, network in (("reference", reference), ("model", model)):
        refuse_wrapped(network, argument)
        refuse_shared_weights(network)
    _check_same_architecture(reference, model)
    aligned, perms = METHODS[method](reference, model, example_input, seed=seed, max_iterations=max_iterations)
    check_same_function(model, aligned, example_input, method)
    return aligned, perms


def _check_same_architecture(reference: nn.Module, model: nn.Module) -> None:
    ref, mod = reference.state_dict(), model.state_dict()
    for key in [*ref, *(k for k in mod if k not in ref)]:
        if key not in ref or key not in mod:
            raise ValueError(f"cannot align models of different architectures: only one has {key!r}")
        if ref[key].shape != mod[key].shape:
            raise ValueError(f"cannot align models of different architectures: {key!r} has shape "
                             f"{tuple(ref[key].shape)} in the reference and {tuple(mod[key].shape)} in the model")
