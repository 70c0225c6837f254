"""What `starlight.align` accepts as a model: inputs passed by keyword are followed (or refused, naming the
keyword), weights shared between modules are refused naming both, and a DataParallel wrapper is refused
with the advice to pass `.module`."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from architectures import LayerCalledTwice
from planting import into, out, plant
from torch import nn

from starlight.align import UnsupportedLayerError, align, align_with_permutations, permutation_spec

METHODS = ["matching", "rebasin"]


class KeywordStreams(nn.Module):
    """Operands and dims by keyword: torch.add(input=a, other=b) merges a's and b's units into one group,
    torch.cat(tensors=..., axis=1) puts c's units after them, torch.mean(input=..., axis=...) keeps d's."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 1)
        self.c = nn.Conv2d(3, 5, 3, padding=1)
        self.d = nn.Conv2d(9, 6, 3, padding=1)
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        stream = torch.add(input=self.a(input=x), other=self.b(input=x))
        both = torch.cat(tensors=[F.relu(input=stream), self.c(input=x)], axis=1)
        return self.head(input=torch.mean(input=torch.relu(input=self.d(input=both)), axis=(2, 3)))


KEYWORD_STREAMS_GROUPS = [[out("a"), out("b"), into("d")], [out("c"), into("d", offset=4)], [out("d"), into("head")]]


def keyword_streams(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return KeywordStreams()


def images(n: int = 4) -> torch.Tensor:
    return torch.randn(n, 3, 8, 8, generator=torch.Generator().manual_seed(123))


def max_state_diff(a: nn.Module, b: nn.Module) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    return max((sa[k] - sb[k]).abs().max().item() for k in sa)


def test_operands_and_dims_passed_by_keyword_are_followed():
    spec = permutation_spec(keyword_streams(0), images())
    assert spec.describe().splitlines() == [
        "a (4): a.weight[0], a.bias[0], b.weight[0], b.bias[0], d.weight[1]",
        "c (5): c.weight[0], c.bias[0], d.weight[1]@4",
        "d (6): d.weight[0], d.bias[0], head.weight[1]",
    ]


def test_keyword_streams_recover_a_planted_permutation_and_keep_the_function():
    original = keyword_streams(0)
    planted = plant(original, KEYWORD_STREAMS_GROUPS, seed=7)
    x = images(16)
    with torch.no_grad():
        assert max_state_diff(planted, original) > 1e-2
        assert torch.allclose(planted(x), original(x), atol=1e-5)
        assert max_state_diff(align(original, planted, x[:4]), original) <= 1e-6
        aligned = align(original, keyword_streams(1), x[:4])
        assert torch.allclose(aligned(x), keyword_streams(1)(x), atol=1e-5)


class _OutByKeyword(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 6)
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        hidden = torch.relu(input=self.fc(input=x))
        return self.head(input=torch.sigmoid(input=hidden, out=hidden))


def test_a_tensor_passed_by_a_keyword_no_rule_reads_is_refused_by_name():
    model, x = _OutByKeyword(), torch.randn(2, 4)
    named = r"node 'sigmoid' \(sigmoid\): gets a tensor by keyword 'out', which weight matching does not follow"
    with pytest.raises(UnsupportedLayerError, match=named):
        permutation_spec(model, x)
    with pytest.raises(UnsupportedLayerError, match=named):
        align(model, copy.deepcopy(model), x)


class _FunctionalLinear(nn.Module):
    """`F.linear(input=..., weight=self.w)`: a weight held by no layer, read by a function."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 6)
        self.w = nn.Parameter(torch.randn(2, 6))

    def forward(self, x):
        return F.linear(input=torch.relu(input=self.fc(input=x)), weight=self.w)


def test_a_functional_linear_with_keyword_arguments_is_refused_by_name():
    """Refused by its weight, as it is when passed by position (no IndexError from the keywords); rebasin does not
    see the weight either, leaves fc's units in place and so keeps the function."""
    torch.manual_seed(0)
    model, x = _FunctionalLinear(), torch.randn(3, 4)
    named = r"node 'w' reads 'w' directly; only weights held by supported layers .* can be permuted"
    with pytest.raises(UnsupportedLayerError, match=named):
        permutation_spec(model, x)
    with pytest.raises(UnsupportedLayerError, match=named):
        align(model, _FunctionalLinear(), x)
    other = _FunctionalLinear()
    aligned, perms = align_with_permutations(model, other, x, method="rebasin")
    assert perms == {} and max_state_diff(aligned, other) == 0


class _Tied(nn.Module):
    """`self.b.weight = self.a.weight`: one tensor, two layers at different places."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(6, 6)
        self.b = nn.Linear(6, 6)
        self.b.weight = self.a.weight
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        return self.head(F.relu(self.b(F.relu(self.a(x)))))


class _Aliased(nn.Module):
    """One layer registered under two names and called at two places."""

    def __init__(self):
        super().__init__()
        self.first = nn.Linear(6, 6)
        self.again = self.first
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        return self.head(F.relu(self.again(F.relu(self.first(x)))))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("model,named", [
    (_Tied(), r"modules 'a' and 'b' share one tensor \('a.weight' is 'b.weight'\)"),
    (_Aliased(), r"modules 'first' and 'again' share one tensor \('first.weight' is 'again.weight'\)"),
], ids=["tied", "aliased"])
def test_weights_shared_between_modules_are_refused_naming_both(model, named, method):
    x = torch.randn(2, 6)
    with pytest.raises(UnsupportedLayerError, match=named):
        permutation_spec(model, x)
    with pytest.raises(UnsupportedLayerError, match=named):
        align(model, copy.deepcopy(model), x, method=method)
    with pytest.raises(UnsupportedLayerError, match=named):  # the reference's weights count as much
        align(copy.deepcopy(model), nn.Sequential(), x, method=method)


@pytest.mark.parametrize("method,named", [
    ("matching", r"layer 'fc' \(Linear\) is called more than once, at nodes 'fc' and 'fc_1'"),
    ("rebasin", r"layer 'fc' \(Linear\) is called more than once"),
])
def test_a_layer_called_at_two_places_is_refused_naming_both(method, named):
    """Its input units are the network's inputs at the first call and its own outputs at the second."""
    torch.manual_seed(0)
    reference = LayerCalledTwice()
    with pytest.raises(UnsupportedLayerError, match=named):
        align(reference, LayerCalledTwice(), torch.randn(2, 4), method=method)


def test_a_dataparallel_wrapper_is_refused_with_the_advice_to_pass_module():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    wrapped, x = nn.DataParallel(model), torch.randn(2, 4)
    assert torch.equal(wrapped(x), model(x))  # it runs on the CPU as the network it wraps
    with pytest.raises(TypeError, match=r"the model is wrapped in DataParallel: pass the network it wraps, "
                                        r"`model.module`"):
        align(model, wrapped, x)
    with pytest.raises(TypeError, match=r"the reference is wrapped in DataParallel: .*`reference.module`"):
        align(wrapped, model, x, method="rebasin")
    with pytest.raises(TypeError, match=r"`model.module`"):
        permutation_spec(wrapped, x)
    aligned = align(model, wrapped.module, x)
    assert torch.allclose(aligned(x), model(x))
