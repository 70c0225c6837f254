"""Tests for weight-matching alignment (starlight.align): both methods on the MLP and CNN, the API around
the permutations, errors for what cannot be aligned. Per-architecture tests: test_align_architectures.py."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from architectures import ConvFlattenLinear, InputResidual, LayerCalledTwice
from planting import chain_groups, plant
from rebasin import PermutationCoordinateDescent
from torch import nn

from starlight.align import (
    UnsupportedLayerError,
    align,
    align_with_permutations,
    apply_permutations,
    compose,
    invert,
    permutation_spec,
)
from starlight.align.rebasin import _WeightMatching, rebasin_align
from starlight.models import build_model

MLP = {"name": "mlp", "depth": 2, "width": 64, "batchnorm": False}
MLP_BN = {"name": "mlp", "depth": 2, "width": 64, "batchnorm": True}
CNN_BN = {"name": "cnn", "depth": 2, "width": 8, "batchnorm": True}
METHODS = ["matching", "rebasin"]


def make(cfg: dict, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return build_model(cfg)


def with_running_stats(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give BN layers non-trivial running stats (shifted, scaled data), so that forgetting
    to permute them changes the eval-mode function."""
    gen = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        for _ in range(5):
            model(3.0 * torch.randn(32, 1, 28, 28, generator=gen) + 1.0)
    return model


def inputs(n: int = 16, seed: int = 123) -> torch.Tensor:
    return torch.randn(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def eval_out(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    model = copy.deepcopy(model).eval()
    return model(x)


def l2(a: nn.Module, b: nn.Module) -> float:
    return sum((pa - pb).pow(2).sum() for pa, pb in zip(a.parameters(), b.parameters())).sqrt().item()


def max_state_diff(a: nn.Module, b: nn.Module) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return max((sa[k].double() - sb[k].double()).abs().max().item() for k in sa)


@pytest.mark.parametrize("method", METHODS)
def test_mlp_alignment_preserves_function_and_moves_towards_reference(method):
    a, b = make(MLP, 0), make(MLP, 1)
    x = inputs()
    aligned = align(a, b, x[:4], method=method)
    assert torch.allclose(eval_out(aligned, x), eval_out(b, x), atol=1e-4)
    assert l2(a, aligned) < l2(a, b) - 1e-3
    assert max_state_diff(aligned, b) > 1e-3  # something was actually permuted


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("cfg", [CNN_BN, MLP_BN], ids=["cnn_bn", "mlp_bn"])
def test_batchnorm_alignment_preserves_eval_function(cfg, method):
    a, b = with_running_stats(make(cfg, 0), 0), with_running_stats(make(cfg, 1), 1)
    x = inputs()
    aligned = align(a, b, x[:4], method=method)
    assert torch.allclose(eval_out(aligned, x), eval_out(b, x), atol=1e-4)
    assert torch.allclose(aligned.train()(x), b.train()(x), atol=1e-4)  # batch statistics too
    assert l2(a, aligned) < l2(a, b)


def test_raw_rebasin_breaks_batchnorm_eval_function():
    """The defect the rebasin method repairs: rebasin 0.0.47 leaves BN running stats unpermuted."""
    a, b = with_running_stats(make(CNN_BN, 0), 0), with_running_stats(make(CNN_BN, 1), 1)
    x = inputs()
    raw = copy.deepcopy(b)
    PermutationCoordinateDescent(copy.deepcopy(a), raw, x[:4]).rebasin()
    assert not torch.allclose(eval_out(raw, x), eval_out(b, x), atol=1e-2)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("cfg", [MLP, MLP_BN, CNN_BN], ids=["mlp", "mlp_bn", "cnn_bn"])
def test_planted_permutation_is_recovered_exactly(cfg, method):
    a = with_running_stats(make(cfg, 0))
    b = plant(a, chain_groups(a), seed=7)
    x = inputs()
    assert max_state_diff(a, b) > 1e-2  # the plant moved things
    assert torch.allclose(eval_out(a, x), eval_out(b, x), atol=1e-4)  # ...without changing the function
    assert max_state_diff(align(a, b, x[:4], method=method), a) < 1e-6


@pytest.mark.parametrize("method", METHODS)
def test_bias_terms_count_in_the_matching(method):
    """Hidden units with identical in- and out-weights differ only by their bias, which
    rebasin 0.0.47 ignores (a scalar cost term); both methods must still undo the plant."""
    a = make({"name": "mlp", "depth": 1, "width": 16}, 0)
    with torch.no_grad():
        a.net[1].weight.copy_(a.net[1].weight[:1].expand_as(a.net[1].weight))
        a.net[3].weight.copy_(a.net[3].weight[:, :1].expand_as(a.net[3].weight))
    b = plant(a, chain_groups(a), seed=3)
    assert max_state_diff(a, b) > 1e-3
    assert max_state_diff(align(a, b, inputs(4), method=method), a) < 1e-6


@pytest.mark.parametrize("method", METHODS)
def test_returned_permutations_describe_the_aligned_model(method):
    a, b = make(MLP_BN, 0), with_running_stats(make(MLP_BN, 1))
    aligned, perms = align_with_permutations(a, b, inputs(4), method=method)
    assert set(perms) == {"net.1", "net.4"}  # the two hidden Linear layers
    p1, p2 = perms["net.1"], perms["net.4"]
    assert torch.equal(aligned.net[1].weight, b.net[1].weight[p1])
    assert torch.equal(aligned.net[2].running_var, b.net[2].running_var[p1])
    assert torch.equal(aligned.net[4].weight, b.net[4].weight[p2][:, p1])
    assert torch.equal(aligned.net[7].weight, b.net[7].weight[:, p2])


def test_one_group_gives_the_same_permutation_as_rebasin():
    """With one hidden layer (MLP 784-128-10) both methods solve the same assignment problem."""
    cfg = {"name": "mlp", "depth": 1, "width": 128}
    a, b = make(cfg, 0), make(cfg, 1)
    _, ours = align_with_permutations(a, b, inputs(4), method="matching")
    _, theirs = align_with_permutations(a, b, inputs(4), method="rebasin")
    assert torch.equal(ours["net.1"], theirs["net.1"])
    assert not torch.equal(ours["net.1"], torch.arange(128))


def test_stored_permutations_can_be_reapplied_composed_and_inverted():
    a, b = with_running_stats(make(CNN_BN, 0), 0), with_running_stats(make(CNN_BN, 1), 1)
    x = inputs(4)
    aligned, perms = align_with_permutations(a, b, x, method="matching")
    spec = permutation_spec(b, x)
    state = b.state_dict()
    reapplied = apply_permutations(state, spec, perms)
    assert all(torch.equal(reapplied[k], v) for k, v in aligned.state_dict().items())
    back = apply_permutations(reapplied, spec, invert(perms))
    assert all(torch.equal(back[k], v) for k, v in state.items())
    twice = apply_permutations(reapplied, spec, perms)
    assert all(torch.equal(twice[k], v) for k, v in apply_permutations(state, spec, compose(perms, perms)).items())
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in state.items())  # the input state dict is untouched


@pytest.mark.parametrize("method", METHODS)
def test_deterministic_and_inputs_untouched(method):
    a, b = with_running_stats(make(CNN_BN, 0), 0), with_running_stats(make(CNN_BN, 1), 1)
    b.train()
    a.eval()
    a_before, b_before = copy.deepcopy(a.state_dict()), copy.deepcopy(b.state_dict())
    x = inputs(4)
    x_before = x.clone()
    first, second = align(a, b, x, seed=5, method=method), align(a, b, x, seed=5, method=method)
    assert all(torch.equal(v, second.state_dict()[k]) for k, v in first.state_dict().items())
    assert all(torch.equal(v, a.state_dict()[k]) for k, v in a_before.items())
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in b_before.items())
    assert torch.equal(x, x_before)
    assert not a.training and b.training and first.training
    assert first is not b
    with torch.no_grad():  # the aligned copy shares no tensor with its input
        for t in first.state_dict().values():
            t.add_(1)
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in b_before.items())


@pytest.mark.parametrize("cfg", [MLP_BN, CNN_BN], ids=["mlp_bn", "cnn_bn"])
def test_rebasin_traced_on_one_example_finds_what_the_whole_batch_finds(cfg):
    """rebasin_align traces example_input[:1] (tracing the batch cost 5x the time on a ResNet18); torchview
    traces in eval mode, so BatchNorm1d accepts one example even from a model in train mode."""
    a, b = with_running_stats(make(cfg, 0), 0), with_running_stats(make(cfg, 1), 1)
    b.train()
    x = inputs(64)
    on_batch = _WeightMatching(copy.deepcopy(a), copy.deepcopy(b), x, seed=3)
    on_batch.rebasin()
    aligned, perms = rebasin_align(a, b, x, seed=3)
    assert set(perms) == set(on_batch.permutations()) and len(perms) == cfg["depth"]
    assert all(torch.equal(p, on_batch.permutations()[k]) for k, p in perms.items())
    assert all(not torch.equal(p, torch.arange(len(p))) for p in perms.values())
    assert all(torch.equal(v, on_batch.model_b.state_dict()[k]) for k, v in aligned.state_dict().items())
    assert b.training and aligned.training


def test_seed_orders_the_groups():
    """Different seeds visit the groups in different orders; each result is a valid alignment."""
    a, b = make({"name": "mlp", "depth": 4, "width": 16}, 0), make({"name": "mlp", "depth": 4, "width": 16}, 1)
    x = inputs(4)
    results = [align_with_permutations(a, b, x, seed=s, method="matching")[1] for s in range(6)]
    assert any(not all(torch.equal(r[k], results[0][k]) for k in r) for r in results[1:])


def test_rebasin_cannot_follow_a_flatten_and_fails_loudly():
    """conv -> flatten(C*H*W) -> Linear: rebasin links permutations by size only and cannot connect the conv
    channels to the flattened features; it must refuse, not lie. Our engine maps each channel to its block."""
    torch.manual_seed(0)
    a = ConvFlattenLinear()
    torch.manual_seed(1)
    b = ConvFlattenLinear()
    x = inputs(4)
    with pytest.raises(RuntimeError, match="changed the model's function"):
        align(a.eval(), b.eval(), x, method="rebasin")
    aligned = align(a, b, x, method="matching")
    assert torch.allclose(eval_out(aligned, x), eval_out(b, x), atol=1e-5)


def test_units_that_meet_the_input_are_never_permuted():
    """x + conv(x): the conv's outputs are added to the input channels, so that group is fixed."""
    spec = permutation_spec(InputResidual(), torch.randn(2, 3, 8, 8))
    assert spec.names == ["inner"]


class _Functional(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(4, 4))
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(F.linear(x, self.weight))


class _Branching(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(x) if x.sum() > 0 else x


class _Slicing(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 6)
        self.head = nn.Linear(3, 2)

    def forward(self, x):
        return self.head(self.fc(x)[:, :3])


@pytest.mark.parametrize("model,shape,named", [
    (nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2)), (4,), r"layer '1' \(LayerNorm\)"),
    (nn.Sequential(nn.Conv2d(4, 8, 1, groups=2), nn.Flatten(), nn.Linear(8, 2)), (4, 1, 1),
     r"layer '0' \(Conv2d\): grouped convolution"),
    (nn.Sequential(nn.Linear(4, 8), nn.PReLU(8), nn.Linear(8, 2)), (4,), r"layer '1' \(PReLU\)"),
    (LayerCalledTwice(), (4,), r"layer 'fc' \(Linear\) is called more than once"),
    (_Functional(), (4,), r"node 'weight' reads 'weight'"),
    (_Branching(), (4,), r"_Branching cannot be traced"),
    (_Slicing(), (4,), r"node 'getitem'"),
], ids=["layernorm", "grouped_conv", "prelu", "shared", "functional", "branching", "slicing"])
def test_unsupported_layer_is_an_error_naming_it(model, shape, named):
    x = torch.randn(2, *shape)
    with pytest.raises(UnsupportedLayerError, match=named):
        permutation_spec(model, x)
    with pytest.raises(UnsupportedLayerError, match=named):
        align(model, copy.deepcopy(model), x, method="matching")


def test_bad_arguments_are_named():
    a = make(MLP, 0)
    with pytest.raises(ValueError, match="unknown alignment method 'git'"):
        align(a, a, inputs(2), method="git")
    with pytest.raises(ValueError, match=r"'net.1.weight' has shape \(64, 784\) in the reference and \(32, 784\)"):
        align(a, make({**MLP, "width": 32}, 1), inputs(2))
