"""Weight matching (Ainsworth et al., "Git Re-Basin", 2023) by coordinate descent over permutation groups.

Maximise sum over weights W of <W_a, P(W_b)>, where P permutes every member of every group of the spec.
With all other groups held fixed the objective is linear in one group's permutation, <P_g, C_g>, with

    C_g[i, j] = sum over members m of g of <unit i of A_m, unit j of B_m (other axes permuted)>,

so each step is a linear assignment problem (`scipy.optimize.linear_sum_assignment`). 1-D weights (biases,
BN affine parameters) are (n, 1) columns there and contribute their outer product. Groups are visited in an
order drawn from a generator seeded by `seed`; a step's new permutation is accepted only if it strictly
improves the objective (ties never flip), and the sweeps stop when one changes nothing.

Speed: every member's matrix is kept between steps. When the permutation of the member's other axis has
changed at only a few units since, the matrix is updated with those units' columns only, so late sweeps
cost a fraction of the first. Matrices are float32; acceptance uses a tolerance above float32 rounding.
"""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment

from .apply import Permutations, axis_index, identity
from .spec import Member, PermutationSpec

__all__ = ["match"]

RELATIVE_TOLERANCE = 1e-6  # a gain must exceed this fraction of the group's largest possible objective
PARTIAL_UPDATE_FRACTION = 0.5  # update a matrix in place when fewer than this fraction of its columns moved


class _Term:
    """One member's (n, n) matrix C[i, j] = <unit i of A, unit j of B with its other axes permuted>."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor, member: Member, size: int,
                 other_axes: dict[int, list[tuple[str, Member]]]):
        self.other_axes = other_axes
        self.shape = a.shape
        self.n = size

        def units_first(t: torch.Tensor) -> torch.Tensor:  # (n, block, rest of the axes in order)
            t = t.detach().float().movedim(member.axis, 0).narrow(0, member.offset, size * member.block)
            return t.reshape(size, member.block, *t.shape[1:])

        if len(other_axes) <= 1:  # (n, L, r): L runs along the one other permuted axis (1 if none)
            axis = next(iter(other_axes), None)
            position = None if axis is None else axis + 2 if axis < member.axis else axis + 1
            self.a = _along(units_first(a), position).contiguous()
            self.b = _along(units_first(b), position).contiguous()
        else:  # several other permuted axes: permute B's original tensor, then bring the units first
            self.a = units_first(a).reshape(size, -1)
            self.b, self.units_first = b.detach().float(), units_first
        self.norms = (self.a.square().sum().item(), self.b.square().sum().item())
        self.matrix: torch.Tensor | None = None
        self.index: dict[int, torch.Tensor] = {}

    def value(self, perms: Permutations) -> torch.Tensor:
        index = {axis: axis_index(self.shape[axis], [(perms[g], m) for g, m in slices])
                 for axis, slices in self.other_axes.items()}
        if self.matrix is not None and all(torch.equal(index[k], self.index[k]) for k in index):
            return self.matrix
        if self.matrix is not None and len(index) == 1:
            (axis, new), = index.items()
            old = self.index[axis]
            moved = (new != old).nonzero().flatten()
            if len(moved) < PARTIAL_UPDATE_FRACTION * len(new):
                dev = self.a.device
                moved_a = self.a[:, moved.to(dev)].reshape(self.n, -1)
                delta_b = self.b[:, new[moved].to(dev)] - self.b[:, old[moved].to(dev)]
                self.matrix = self.matrix + moved_a @ delta_b.reshape(self.n, -1).T
                self.index = index
                return self.matrix
        self.matrix, self.index = self._full(index), index
        return self.matrix

    def _full(self, index: dict[int, torch.Tensor]) -> torch.Tensor:
        dev = self.a.device
        if len(index) <= 1:
            b = self.b if not index else self.b.index_select(1, next(iter(index.values())).to(dev))
            return self.a.reshape(self.n, -1) @ b.reshape(self.n, -1).T
        b = self.b
        for axis, idx in index.items():
            b = b.index_select(axis, idx.to(dev))
        return self.a @ self.units_first(b).reshape(self.n, -1).T


def _along(t: torch.Tensor, position: int | None) -> torch.Tensor:
    """(n, ...) -> (n, L, r) with L the axis at `position` (or 1 when None)."""
    if position is None:
        return t.reshape(t.shape[0], 1, -1)
    t = t.movedim(position, 1)
    return t.reshape(t.shape[0], t.shape[1], -1)


def match(spec: PermutationSpec, reference: dict[str, torch.Tensor], model: dict[str, torch.Tensor], *,
          seed: int = 0, max_iterations: int = 100) -> Permutations:
    """Permutations that bring `model`'s weights closest to `reference`'s (maximise sum <W_a, P(W_b)>).

    `reference` and `model` map state-dict keys to weights; members whose key is absent (e.g. BN running
    statistics, when only parameters are passed) are permuted by the result but do not enter the matching.
    Deterministic for given arguments (and number of threads). `max_iterations` bounds the sweeps.
    """
    by_key = spec.by_key()
    terms: dict[str, list[_Term]] = {}
    for group in spec.groups:
        terms[group.name] = []
        for member in group.members:
            if member.key not in reference:
                continue
            others: dict[int, list[tuple[str, Member]]] = {}
            for name, m in by_key[member.key]:
                if m.axis != member.axis:
                    others.setdefault(m.axis, []).append((name, m))
            device = reference[member.key].device
            terms[group.name].append(_Term(reference[member.key], model[member.key].to(device), member,
                                           group.size, others))
    scale = {name: (sum(t.norms[0] for t in ts) * sum(t.norms[1] for t in ts)) ** 0.5 for name, ts in terms.items()}

    perms = identity(spec)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(max_iterations):
        changed = False
        for i in torch.randperm(len(spec), generator=generator).tolist():
            name = spec.groups[i].name
            if not terms[name]:
                continue
            cost = sum(t.value(perms) for t in terms[name]).double().cpu()
            _, cols = linear_sum_assignment(cost.numpy(), maximize=True)
            new = torch.from_numpy(cols).long()
            rows = torch.arange(len(new))
            gain = (cost[rows, new].sum() - cost[rows, perms[name]].sum()).item()
            if gain > RELATIVE_TOLERANCE * scale[name]:
                perms[name] = new
                changed = True
        if not changed:
            break
    return perms
