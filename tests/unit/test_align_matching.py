"""The engine's parts on their own: the spec of small graphs, the coordinate descent's optimality, and the
incremental cost updates against full recomputation."""

from __future__ import annotations

import itertools

import pytest
import torch
from architectures import ConvFlattenLinear
from torch import nn

from starlight.align import Member, apply_permutations, match, permutation_spec
from starlight.align.matching import _Term
from starlight.models import build_model


def params(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: p.detach() for k, p in model.named_parameters()}


def objective(reference: nn.Module, model: nn.Module, spec, perms) -> float:
    """sum over parameters of <W_a, P(W_b)>, computed by permuting the whole state dict."""
    permuted = apply_permutations(model.state_dict(), spec, perms)
    return sum((w.double() * permuted[k].double()).sum().item() for k, w in params(reference).items())


def mlp(depth: int, width: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return build_model({"name": "mlp", "depth": depth, "width": width})


def test_one_group_is_solved_exactly():
    """One hidden layer of 6 units: the result beats every one of the 720 permutations."""
    a, b = mlp(1, 6, 0), mlp(1, 6, 1)
    x = torch.randn(2, 1, 28, 28)
    spec = permutation_spec(b, x)
    found = match(spec, params(a), params(b))
    best = max(objective(a, b, spec, {"net.1": torch.tensor(p)}) for p in itertools.permutations(range(6)))
    assert objective(a, b, spec, found) == pytest.approx(best, rel=1e-9)


def test_result_is_a_coordinatewise_optimum():
    """Three hidden layers of 5 units: changing any single group's permutation cannot improve the result."""
    a, b = mlp(3, 5, 0), mlp(3, 5, 1)
    spec = permutation_spec(b, torch.randn(2, 1, 28, 28))
    found = match(spec, params(a), params(b), seed=3)
    reached = objective(a, b, spec, found)
    assert reached > objective(a, b, spec, {g.name: torch.arange(g.size) for g in spec.groups})
    for group in spec.groups:
        for p in itertools.permutations(range(group.size)):
            assert objective(a, b, spec, {**found, group.name: torch.tensor(p)}) <= reached + 1e-6 * abs(reached)


def test_partial_update_equals_full_recomputation():
    """A conv weight's output-axis matrix, updated for a few moved input channels, equals a fresh one."""
    gen = torch.Generator().manual_seed(0)
    wa, wb = torch.randn(32, 48, 3, 3, generator=gen), torch.randn(32, 48, 3, 3, generator=gen)
    other = {1: [("inputs", Member("w", 1))]}
    term = _Term(wa, wb, Member("w", 0), 32, other)
    start = {"inputs": torch.randperm(48, generator=gen)}
    term.value(start)
    moved = start["inputs"].clone()
    moved[[3, 7, 20]] = moved[[20, 3, 7]]  # 3 of 48 channels move: the in-place update path
    updated = term.value({"inputs": moved}).clone()
    assert term.version == 2
    fresh = _Term(wa, wb, Member("w", 0), 32, other).value({"inputs": moved})
    assert torch.allclose(updated, fresh, rtol=1e-5, atol=1e-4)
    expected = torch.einsum("icxy,jcxy->ij", wa, wb[:, moved])
    assert torch.allclose(fresh, expected, rtol=1e-5, atol=1e-4)
    assert term.value({"inputs": moved}) is term.matrix and term.version == 2  # unchanged: no recomputation


def test_exact_gain_of_moving_units():
    """The float64 change of sum_i C[i, perm[i]] when some units change partner, other axis permuted."""
    gen = torch.Generator().manual_seed(1)
    wa, wb = torch.randn(16, 24, 3, 3, generator=gen), torch.randn(16, 24, 3, 3, generator=gen)
    term = _Term(wa, wb, Member("w", 0), 16, {1: [("inputs", Member("w", 1))]})
    inputs = torch.randperm(24, generator=gen)
    term.value({"inputs": inputs})
    old, new = torch.arange(16), torch.arange(16)
    new[[2, 5, 9]] = torch.tensor([5, 9, 2])
    c = torch.einsum("icxy,jcxy->ij", wa.double(), wb.double()[:, inputs])
    expected = (c[torch.arange(16), new] - c[torch.arange(16), old]).sum().item()
    rows = torch.tensor([2, 5, 9])
    assert term.gain(rows, new[rows], old[rows]) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_flatten_maps_each_channel_to_a_block_of_features():
    spec = permutation_spec(ConvFlattenLinear(channels=4, hidden=8), torch.randn(2, 1, 28, 28))
    assert spec.names == ["conv", "fc1"]
    assert Member("fc1.weight", 1, offset=0, block=16) in spec["conv"].members  # 4 channels x (4 x 4) features
    assert {m.key for m in spec["conv"].members} == {"conv.weight", "conv.bias", "bn.weight", "bn.bias",
                                                     "bn.running_mean", "bn.running_var", "fc1.weight"}


class _Concat(nn.Module):
    """Two branches concatenated along channels, then BN and a 1x1 conv reading both."""

    def __init__(self):
        super().__init__()
        self.left = nn.Conv2d(3, 2, 1)
        self.right = nn.Conv2d(3, 5, 1)
        self.bn = nn.BatchNorm2d(7)
        self.mix = nn.Conv2d(7, 4, 1)
        self.head = nn.Linear(4, 10)

    def forward(self, x):
        out = self.mix(self.bn(torch.cat([self.left(x), self.right(x)], 1)))
        return self.head(out.mean((2, 3)))


def test_concatenation_gives_each_group_its_segment():
    spec = permutation_spec(_Concat(), torch.randn(2, 3, 4, 4))
    assert [(g.name, g.size) for g in spec.groups] == [("left", 2), ("right", 5), ("mix", 4)]
    assert Member("bn.running_var", 0, offset=2) in spec["right"].members
    assert Member("mix.weight", 1, offset=2) in spec["right"].members
    assert Member("mix.weight", 1, offset=0) in spec["left"].members
