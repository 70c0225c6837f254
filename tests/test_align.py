"""Tests for weight-matching alignment (starlight.align): real models, real rebasin, CPU only."""

from __future__ import annotations

import copy

import pytest
import torch
from rebasin import PermutationCoordinateDescent
from torch import nn

from starlight.align import align, align_with_permutations, permute_hidden_units
from starlight.models import build_model

MLP = {"name": "mlp", "depth": 2, "width": 64, "batchnorm": False}
MLP_BN = {"name": "mlp", "depth": 2, "width": 64, "batchnorm": True}
CNN_BN = {"name": "cnn", "depth": 2, "width": 8, "batchnorm": True}


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


def test_mlp_alignment_preserves_function_and_moves_towards_reference():
    a, b = make(MLP, 0), make(MLP, 1)
    x = inputs()
    aligned = align(a, b, x[:4])
    assert torch.allclose(eval_out(aligned, x), eval_out(b, x), atol=1e-4)
    assert l2(a, aligned) < l2(a, b) - 1e-3
    assert max_state_diff(aligned, b) > 1e-3  # something was actually permuted


@pytest.mark.parametrize("cfg", [CNN_BN, MLP_BN], ids=["cnn_bn", "mlp_bn"])
def test_batchnorm_alignment_preserves_eval_function(cfg):
    a, b = with_running_stats(make(cfg, 0), 0), with_running_stats(make(cfg, 1), 1)
    x = inputs()
    aligned = align(a, b, x[:4])
    assert torch.allclose(eval_out(aligned, x), eval_out(b, x), atol=1e-4)
    assert torch.allclose(aligned.train()(x), b.train()(x), atol=1e-4)  # batch statistics too
    assert l2(a, aligned) < l2(a, b)


def test_raw_rebasin_breaks_batchnorm_eval_function():
    """The defect align() repairs: rebasin 0.0.47 leaves BN running stats unpermuted."""
    a, b = with_running_stats(make(CNN_BN, 0), 0), with_running_stats(make(CNN_BN, 1), 1)
    x = inputs()
    raw = copy.deepcopy(b)
    PermutationCoordinateDescent(copy.deepcopy(a), raw, x[:4]).rebasin()
    assert not torch.allclose(eval_out(raw, x), eval_out(b, x), atol=1e-2)


@pytest.mark.parametrize("cfg", [MLP, MLP_BN, CNN_BN], ids=["mlp", "mlp_bn", "cnn_bn"])
def test_planted_permutation_is_recovered_exactly(cfg):
    a = with_running_stats(make(cfg, 0))
    b = permute_hidden_units(a, seed=7)
    x = inputs()
    assert max_state_diff(a, b) > 1e-2  # the plant moved things
    assert torch.allclose(eval_out(a, x), eval_out(b, x), atol=1e-4)  # ...without changing the function
    assert max_state_diff(align(a, b, x[:4]), a) < 1e-6


def test_bias_terms_count_in_the_matching():
    """Hidden units with identical in- and out-weights differ only by their bias, which
    rebasin 0.0.47 ignores (a scalar cost term); align() must still undo the plant."""
    a = make({"name": "mlp", "depth": 1, "width": 16}, 0)
    with torch.no_grad():
        a.net[1].weight.copy_(a.net[1].weight[:1].expand_as(a.net[1].weight))
        a.net[3].weight.copy_(a.net[3].weight[:, :1].expand_as(a.net[3].weight))
    b = permute_hidden_units(a, seed=3)
    assert max_state_diff(a, b) > 1e-3
    assert max_state_diff(align(a, b, inputs(4)), a) < 1e-6


def test_returned_permutations_describe_the_aligned_model():
    a, b = make(MLP_BN, 0), with_running_stats(make(MLP_BN, 1))
    aligned, perms = align_with_permutations(a, b, inputs(4))
    assert set(perms) == {"net.1", "net.4"}  # the two hidden Linear layers
    p1, p2 = perms["net.1"], perms["net.4"]
    assert torch.equal(aligned.net[1].weight, b.net[1].weight[p1])
    assert torch.equal(aligned.net[2].running_var, b.net[2].running_var[p1])
    assert torch.equal(aligned.net[4].weight, b.net[4].weight[p2][:, p1])
    assert torch.equal(aligned.net[7].weight, b.net[7].weight[:, p2])


def test_deterministic_and_inputs_untouched():
    a, b = with_running_stats(make(CNN_BN, 0), 0), with_running_stats(make(CNN_BN, 1), 1)
    b.train()
    a.eval()
    a_before, b_before = copy.deepcopy(a.state_dict()), copy.deepcopy(b.state_dict())
    x = inputs(4)
    first, second = align(a, b, x, seed=5), align(a, b, x, seed=5)
    assert all(torch.equal(v, second.state_dict()[k]) for k, v in first.state_dict().items())
    assert all(torch.equal(v, a.state_dict()[k]) for k, v in a_before.items())
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in b_before.items())
    assert not a.training and b.training and first.training
    assert first is not b


def test_mistraced_architecture_fails_loudly():
    """Conv -> flatten(C*H*W) -> Linear: rebasin links permutations by size only and cannot
    connect the conv channels to the flattened features; align() must refuse, not lie."""
    torch.manual_seed(0)
    a = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    torch.manual_seed(1)
    b = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    with pytest.raises(RuntimeError, match="changed the model's function"):
        align(a, b, torch.randn(2, 1, 8, 8))
