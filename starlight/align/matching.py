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
cost a fraction of the first; a group whose matrices did not change at all is not solved again (the last
sweep, which only confirms, costs almost nothing). Matrices are float32; acceptance uses a tolerance
above float32 rounding.
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
    """One member's (n, n) matrix C[i, j] = <unit i of A, unit j of B with its other axes permuted>.

    With at most one other permuted axis (every Linear and Conv weight), A and B are stored as (L, r, n):
    L along the other axis, r the remaining entries, the units last. Permuting the other axis then gathers
    whole (r, n) slabs, and C = A^T B is one matrix product.
    """

    def __init__(self, a: torch.Tensor, b: torch.Tensor, member: Member, size: int,
                 other_axes: dict[int, list[tuple[str, Member]]]):
        self.other_axes = other_axes
        self.shape = a.shape
        self.n = size

        def units_first(t: torch.Tensor) -> torch.Tensor:  # (n, block, the other axes in order)
            t = t.detach().float().movedim(member.axis, 0).narrow(0, member.offset, size * member.block)
            return t.reshape(size, member.block, *t.shape[1:])

        if len(other_axes) <= 1:
            axis = next(iter(other_axes), None)
            position = None if axis is None else axis + 2 if axis < member.axis else axis + 1
            self.a, self.b = _slabs(units_first(a), position), _slabs(units_first(b), position)
        else:  # several other permuted axes: permute B's original tensor, then bring the units first
            self.a = units_first(a).reshape(size, -1)
            self.b, self.units_first = b.detach().float(), units_first
        self.norms = (_squared_norm(self.a), _squared_norm(self.b))
        self.matrix: torch.Tensor | None = None
        self.index: dict[int, torch.Tensor] = {}
        self.version = 0  # counts the changes of `matrix`

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
                moved_a = self.a.index_select(0, moved.to(dev)).reshape(-1, self.n)
                delta_b = self.b.index_select(0, new[moved].to(dev)) - self.b.index_select(0, old[moved].to(dev))
                self.matrix = self.matrix + moved_a.T @ delta_b.reshape(-1, self.n)
                self.index, self.version = index, self.version + 1
                return self.matrix
        self.matrix, self.index, self.version = self._full(index), index, self.version + 1
        return self.matrix

    def _full(self, index: dict[int, torch.Tensor]) -> torch.Tensor:
        dev = self.a.device
        if len(index) <= 1:
            b = self.b if not index else self.b.index_select(0, next(iter(index.values())).to(dev))
            return self.a.reshape(-1, self.n).T @ b.reshape(-1, self.n)
        b = self.b
        for axis, idx in index.items():
            b = b.index_select(axis, idx.to(dev))
        return self.a @ self.units_first(b).reshape(self.n, -1).T


def _slabs(t: torch.Tensor, position: int | None) -> torch.Tensor:
    """(n, ...) -> (L, r, n), L the axis at `position` (1 when None), r the remaining entries."""
    t = t.reshape(t.shape[0], 1, -1) if position is None else t.movedim(position, 1)
    return t.reshape(t.shape[0], t.shape[1], -1).permute(1, 2, 0).contiguous()


def _squared_norm(t: torch.Tensor) -> float:
    flat = t.reshape(-1)
    return torch.dot(flat, flat).item()


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
    solved: dict[str, list[int]] = {}  # the terms' versions at each group's last assignment problem
    generator = torch.Generator().manual_seed(seed)
    for _ in range(max_iterations):
        changed = False
        for i in torch.randperm(len(spec), generator=generator).tolist():
            name = spec.groups[i].name
            matrices = [t.value(perms) for t in terms[name]]
            versions = [t.version for t in terms[name]]
            if not matrices or solved.get(name) == versions:
                continue  # the same problem as last time: the same answer, already taken or refused
            solved[name] = versions
            cost = sum(matrices).double().cpu()
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
