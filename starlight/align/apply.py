"""Permutations as data: apply them to a state dict, compose and invert them. Pure functions.

A permutation set maps group name -> index tensor `perm` with: unit i of the permuted model is unit perm[i]
of the original, i.e. permuted = original[perm] along every member of the group.
"""

from __future__ import annotations

import torch

from .spec import Member, PermutationSpec

Permutations = dict[str, torch.Tensor]

__all__ = ["Permutations", "apply_permutations", "axis_index", "compose", "identity", "invert"]


def identity(spec: PermutationSpec) -> Permutations:
    return {g.name: torch.arange(g.size) for g in spec.groups}


def compose(first: Permutations, second: Permutations) -> Permutations:
    """The permutation that applies `first`, then `second`: apply(apply(sd, first), second)."""
    return {name: first[name][second[name]] for name in first}


def invert(perms: Permutations) -> Permutations:
    """apply(apply(sd, perms), invert(perms)) == sd."""
    return {name: torch.argsort(p) for name, p in perms.items()}


def axis_index(length: int, slices: list[tuple[torch.Tensor, Member]]) -> torch.Tensor:
    """Gather index along one axis of `length` entries that applies each (perm, member) to its slice;
    entries outside every slice stay where they are."""
    index = torch.arange(length)
    for perm, m in slices:
        within = torch.arange(m.block)
        index[m.offset:m.offset + len(perm) * m.block] = (m.offset + perm.cpu()[:, None] * m.block + within).flatten()
    return index


def apply_permutations(state_dict: dict[str, torch.Tensor], spec: PermutationSpec,
                       perms: Permutations) -> dict[str, torch.Tensor]:
    """A new state dict with every member of every group permuted by `perms` (BN buffers included).

    Entries no group touches are the very tensors of `state_dict`; permuted ones are new tensors.
    """
    _check(spec, perms)
    out = dict(state_dict)
    for key, slices in spec.by_key().items():
        if key not in state_dict:
            raise KeyError(f"the permutation spec names {key!r}, which the state dict does not have")
        tensor = state_dict[key]
        by_axis: dict[int, list[tuple[torch.Tensor, Member]]] = {}
        for name, member in slices:
            by_axis.setdefault(member.axis, []).append((perms[name], member))
        for axis, axis_slices in by_axis.items():
            tensor = tensor.index_select(axis, axis_index(tensor.shape[axis], axis_slices).to(tensor.device))
        out[key] = tensor
    return out


def _check(spec: PermutationSpec, perms: Permutations) -> None:
    if set(perms) != set(spec.names):
        raise ValueError(f"permutations for groups {sorted(perms)} do not match the spec's {sorted(spec.names)}")
    for group in spec.groups:
        p = perms[group.name]
        if p.shape != (group.size,) or not torch.equal(torch.sort(p.cpu()).values, torch.arange(group.size)):
            raise ValueError(f"permutation of group {group.name!r} is not a permutation of {group.size} units")
