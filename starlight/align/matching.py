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
sweep, which only confirms, costs almost nothing). The matrices are float32. A new permutation's gain is
read off them when it is farther from zero than float32 rounding can reach; otherwise it is computed
exactly, in float64 from the weights of the units that move. Either way a change is accepted with the
threshold of a float64 computation (rebasin's), so the two agree on what counts as an improvement.
"""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment

from .apply import Permutations, axis_index, identity
from .spec import Member, PermutationSpec

__all__ = ["match"]

RELATIVE_TOLERANCE = 1e-12  # a gain must exceed this fraction of the group's objective (float64 rounding)
FLOAT32_ERROR = 1e-4  # bound on |float32 C[i, j] - C[i, j]| relative to |unit i of A| * |unit j of B|
PARTIAL_UPDATE_FRACTION = 0.5  # update a matrix in place when fewer than this fraction of its columns moved


class _Term:
    """One member's (n, n) matrix C[i, j] = <unit i of A, unit j of B with its other axis permuted>.

    A and B are stored as (n, L, r): the units first, then L along the member's other permuted axis (1 if it
    has none), then r, the remaining entries. That is a weight's own memory order when the units are its
    first axis (output channels, BN parameters), so those members are views; others are copied once.
    Permuting the other axis gathers runs of r entries, and C = A B^T is one matrix product.
    """

    def __init__(self, a: torch.Tensor, b: torch.Tensor, member: Member, size: int,
                 other_axes: dict[int, list[tuple[str, Member]]]):
        if len(other_axes) > 1:
            raise ValueError(f"{member.key}: more than two permuted axes (Linear/Conv weights have two)")
        self.other = next(iter(other_axes.items()), None)  # (axis, its slices) or None
        self.length = a.shape[self.other[0]] if self.other else 1
        self.n = size
        self.a, self.b = _slabs(a, member, size, self.other), _slabs(b, member, size, self.other)
        # every unit's squared norm (over this member), which no permutation of the other axis changes
        self.unit_norms = tuple(torch.linalg.vector_norm(t.reshape(size, -1), dim=1).square()
                                for t in (self.a, self.b))
        self.matrix: torch.Tensor | None = None
        self.index: torch.Tensor | None = None  # the other axis's order behind `matrix`
        self.version = 0  # counts the changes of `matrix`

    def _other_index(self, perms: Permutations) -> torch.Tensor | None:
        if self.other is None:
            return None
        return axis_index(self.length, [(perms[g], m) for g, m in self.other[1]]).to(self.a.device)

    def value(self, perms: Permutations) -> torch.Tensor:
        """C with the other axis ordered by `perms`; recomputed, or updated in place, only where it changed."""
        new = self._other_index(perms)
        if self.matrix is not None and (new is None or torch.equal(new, self.index)):
            return self.matrix
        if self.matrix is not None:
            moved = (new != self.index).nonzero().flatten()
            if len(moved) < PARTIAL_UPDATE_FRACTION * len(new):
                moved_a = self.a.index_select(1, moved).reshape(self.n, -1)
                delta_b = self.b.index_select(1, new[moved]) - self.b.index_select(1, self.index[moved])
                self.matrix = self.matrix + moved_a @ delta_b.reshape(self.n, -1).T
                self.index, self.version = new, self.version + 1
                return self.matrix
        b = self.b if new is None else self.b.index_select(1, new)
        self.matrix = self.a.reshape(self.n, -1) @ b.reshape(self.n, -1).T
        self.index, self.version = new, self.version + 1
        return self.matrix

    def gain(self, rows: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> float:
        """Exact (float64 products of the float32 weights) change of sum_i C[i, perm[i]] when the units
        `rows` move from columns `old` to `new`, the other axis ordered as in the last `value` call."""
        dev = self.a.device

        def b_units(which: torch.Tensor) -> torch.Tensor:
            t = self.b.index_select(0, which.to(dev))
            return (t if self.index is None else t.index_select(1, self.index)).double()

        a = self.a.index_select(0, rows.to(dev)).double()
        return (a * (b_units(new) - b_units(old))).sum().item()


def _slabs(t: torch.Tensor, member: Member, size: int, other: tuple[int, list] | None) -> torch.Tensor:
    """The member's slice of `t` as (n, L, r): units first, then the other permuted axis, then the rest
    (a view where that is `t`'s own memory order, else a copy)."""
    t = t.detach().float().movedim(member.axis, 0).narrow(0, member.offset, size * member.block)
    t = t.reshape(size, member.block, *t.shape[1:])  # (n, block, the other axes in order)
    if other is None:
        return t.reshape(size, 1, -1).contiguous()
    axis = other[0]
    t = t.movedim(axis + 2 if axis < member.axis else axis + 1, 1)
    return t.reshape(size, t.shape[1], -1).contiguous()


def match(spec: PermutationSpec, reference: dict[str, torch.Tensor], model: dict[str, torch.Tensor], *,
          seed: int = 0, max_iterations: int = 100) -> Permutations:
    """Permutations that bring `model`'s weights closest to `reference`'s (maximise sum <W_a, P(W_b)>).

    `reference` and `model` map state-dict keys to weights; members whose key is absent (e.g. BN running
    statistics, when only parameters are passed) are permuted by the result but do not enter the matching.
    Deterministic for given arguments (and number of threads). `max_iterations` bounds the sweeps.
    """
    terms = _terms(spec, reference, model)
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
            if _improves(terms[name], cost, perms[name], new):
                perms[name] = new
                changed = True
        if not changed:
            break
    return perms


def _terms(spec: PermutationSpec, reference: dict[str, torch.Tensor], model: dict[str, torch.Tensor]
           ) -> dict[str, list[_Term]]:
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
            a = reference[member.key]
            terms[group.name].append(_Term(a, model[member.key].to(a.device), member, group.size, others))
    return terms


def _improves(terms: list[_Term], cost: torch.Tensor, old: torch.Tensor, new: torch.Tensor) -> bool:
    """Whether `new` strictly improves on `old`: by the float32 estimate from `cost` when it is farther from
    zero than float32 rounding can reach, else exactly."""
    moved = (new != old).nonzero().flatten()
    if len(moved) == 0:
        return False
    estimate = (cost[moved, new[moved]] - cost[moved, old[moved]]).sum().item()
    norm_a, norm_b = (sum(t.unit_norms[i] for t in terms).double().sqrt().cpu() for i in (0, 1))
    rounding = FLOAT32_ERROR * (norm_a[moved] * (norm_b[new[moved]] + norm_b[old[moved]])).sum().item()
    gain = estimate if abs(estimate) > rounding else sum(t.gain(moved, new[moved], old[moved]) for t in terms)
    current = cost[torch.arange(len(old)), old].sum().item()
    return gain > RELATIVE_TOLERANCE * max(1.0, abs(current))
