"""Weight matching on every architecture, at tiny width: the groups found, a planted permutation recovered
exactly, and the aligned model computing the same function (eval mode, BN included)."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import torch
import torchvision
from architectures import VGG, ConvFlattenLinear, DenseNet40, KeywordInputs, ResNet18Cifar, WideResNet
from planting import (
    chain_groups,
    densenet_groups,
    group_size,
    plant,
    resnet_groups,
    text_bag_groups,
    text_cnn_groups,
    wrn_groups,
)
from torch import nn

from starlight.align import align, permutation_spec
from starlight.models import MODELS, build_model

CIFAR, MNIST = (3, 32, 32), (1, 28, 28)
TEXT = (50, 12)  # token ids: a vocabulary of 50, texts of 12 tokens (the text models' input shape)


def zoo(cfg: dict, shape: tuple[int, ...], own: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    """The registered model at this config; until the zoo registers it, our faithful re-implementation."""
    return lambda: build_model(cfg, shape) if cfg["name"] in MODELS else own()


# name: (build, hand-listed groups, number of groups worked out by hand, input shape)
ARCHITECTURES = {
    # depth 2: two hidden Linear layers, each its own group (the output layer's units are the logits).
    "mlp": (zoo({"name": "mlp", "depth": 2, "width": 8, "batchnorm": True}, MNIST, None), chain_groups, 2, MNIST),
    # depth 3: three convs, each its own group; the head's outputs are the logits.
    "cnn": (zoo({"name": "cnn", "depth": 3, "width": 4}, MNIST, None), chain_groups, 3, MNIST),
    # conv (1 group, read by fc1 as 4x4 blocks of features) and fc1 (1 group).
    "conv_flatten_linear": (lambda: ConvFlattenLinear(4, 8), chain_groups, 2, MNIST),
    # every input passed by keyword: conv1, conv2 (read by fc1 as 4x4 blocks, or one feature each after a mean)
    # and fc1, each its own group.
    "keyword_inputs_flatten": (lambda: KeywordInputs(4, 8, pool="flatten"), chain_groups, 3, MNIST),
    "keyword_inputs_mean": (lambda: KeywordInputs(4, 8, pool="mean"), chain_groups, 3, MNIST),
    # 4 residual streams (stem + stage 1; then one per stage 2-4, each started by the first block's 1x1
    # shortcut conv, which joins the stream it outputs to) + 8 blocks' conv1 outputs = 12.
    "resnet18_cifar": (zoo({"name": "resnet18_cifar", "width_multiplier": 1 / 16}, CIFAR, lambda: ResNet18Cifar(4)),
                       lambda m: resnet_groups(m, "shortcut", "linear"), 12, CIFAR),
    # torchvision's layout (downsample for shortcut, max-pool after the stem): the same 4 + 8 = 12.
    "resnet18_torch": (zoo({"name": "resnet18_torch"}, CIFAR, lambda: torchvision.models.resnet18(num_classes=10)),
                       lambda m: resnet_groups(m, "downsample", "fc"), 12, CIFAR),
    # a chain of 8 convs (1 + 1 + 2 + 2 + 2), each its own group; one Linear head.
    "vgg11": (zoo({"name": "vgg11", "width_multiplier": 1 / 16}, CIFAR, lambda: VGG("vgg11", 4, batchnorm=False)),
              chain_groups, 8, CIFAR),
    "vgg11_bn": (zoo({"name": "vgg11_bn", "width_multiplier": 1 / 16}, CIFAR, lambda: VGG("vgg11", 4)),
                 chain_groups, 8, CIFAR),
    # 16 convs (2 + 2 + 4 + 4 + 4).
    "vgg19": (zoo({"name": "vgg19", "width_multiplier": 1 / 16}, CIFAR, lambda: VGG("vgg19", 4, batchnorm=False)),
              chain_groups, 16, CIFAR),
    "vgg19_bn": (zoo({"name": "vgg19_bn", "width_multiplier": 1 / 16}, CIFAR, lambda: VGG("vgg19", 4)),
                 chain_groups, 16, CIFAR),
    # every conv is a group and nothing merges (concatenation keeps groups apart): stem 1 + 3 blocks x 12
    # layers + 2 transitions = 39. Growth 12/6 = 2.
    "densenet40": (zoo({"name": "densenet40", "width_multiplier": 1 / 6}, CIFAR, lambda: DenseNet40(growth=2)),
                   densenet_groups, 39, CIFAR),
    # WRN-16-2 at width 1/4 (stem 4, groups 8, 16, 32 channels): 2 blocks per group. The stem's 4 channels
    # differ from group 1's 8, so block1.0 has a shortcut conv and the stem's units are a group of their own:
    # 3 streams (each started by a group's shortcut conv) + 6 blocks' conv1 outputs + the stem = 10.
    "wrn16_2": (zoo({"name": "wrn", "depth": 16, "widen_factor": 2, "width_multiplier": 1 / 4}, CIFAR,
                    lambda: WideResNet(16, 2, stem=4)), wrn_groups, 10, CIFAR),
    # WRN-16-1: block1.0 has an identity shortcut, so the stem joins group 1's stream: 3 + 6 = 9.
    "wrn16_1": (zoo({"name": "wrn", "depth": 16, "widen_factor": 1, "width_multiplier": 1 / 4}, CIFAR,
                    lambda: WideResNet(16, 1, stem=4)), wrn_groups, 9, CIFAR),
    # the embedding's 8 dimensions, averaged over the text and read by the head: 1 group.
    "text_bag": (zoo({"name": "text_bag", "embed_dim": 8}, TEXT, None), text_bag_groups, 1, TEXT),
    # the embedding's dimensions (every conv's input channels) + each of the 3 convs' filters (max-pooled over
    # time, concatenated, read by the head at offsets 0, 6, 12) = 4.
    "text_cnn": (zoo({"name": "text_cnn", "embed_dim": 8, "filters": 6}, TEXT, None), text_cnn_groups, 4, TEXT),
}
ZOO_NAMES = {"mlp", "cnn", "resnet18_cifar", "resnet18_torch", "vgg11", "vgg11_bn", "vgg19", "vgg19_bn",
             "densenet40", "wrn", "text_bag", "text_cnn"}


def test_every_registered_model_is_covered():
    assert set(MODELS) <= ZOO_NAMES


def build(name: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = ARCHITECTURES[name][0]()
    return with_running_stats(model, ARCHITECTURES[name][3], seed)


@torch.no_grad()
def with_running_stats(model: nn.Module, shape, seed: int) -> nn.Module:
    """Non-trivial BN running statistics and affine parameters, so that a BN left unpermuted shows."""
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return model.eval()
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.weight.copy_(1 + 0.5 * torch.randn(m.weight.shape, generator=gen))
            m.bias.copy_(0.5 * torch.randn(m.bias.shape, generator=gen))
    model.train()
    for _ in range(3):
        model(2.0 * torch.randn(8, *shape, generator=gen) + 0.5)
    return model.eval()


def inputs(shape, n: int = 4, seed: int = 123) -> torch.Tensor:
    """Images of `shape`, or for TEXT token ids (1 and up: the padding id 0 would hide a text's tokens)."""
    gen = torch.Generator().manual_seed(seed)
    if shape == TEXT:
        return torch.randint(1, TEXT[0], (n, TEXT[1]), generator=gen)
    return torch.randn(n, *shape, generator=gen)


@torch.no_grad()
def logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return copy.deepcopy(model).eval()(x)


def max_state_diff(a: nn.Module, b: nn.Module) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return max((sa[k].double() - sb[k].double()).abs().max().item() for k in sa)


def distance(a: nn.Module, b: nn.Module) -> float:
    return sum((pa - pb).pow(2).sum() for pa, pb in zip(a.parameters(), b.parameters())).sqrt().item()


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_group_count_matches_the_hand_count(name):
    _, groups, expected, shape = ARCHITECTURES[name]
    model = build(name, 0)
    spec = permutation_spec(model, inputs(shape))
    assert len(spec) == expected, spec.describe()
    assert len(groups(model)) == expected  # the planter's hand-listed groups agree with the count
    assert sum(g.size for g in spec.groups) == sum(group_size(model, s) for s in groups(model))


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_planted_permutation_is_recovered_exactly(name):
    _, groups, _, shape = ARCHITECTURES[name]
    original = build(name, 0)
    planted = plant(original, groups(original), seed=7)
    x = inputs(shape)
    assert max_state_diff(planted, original) > 1e-2  # the plant moved weights...
    assert torch.allclose(logits(planted, x), logits(original, x), atol=1e-5)  # ...not the function
    recovered = align(original, planted, x, method="matching")
    assert max_state_diff(recovered, original) <= 1e-6


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_alignment_preserves_function_and_moves_towards_reference(name):
    shape = ARCHITECTURES[name][3]
    reference, model = build(name, 0), build(name, 1)
    x = inputs(shape, n=16)
    aligned = align(reference, model, x[:4], method="matching")
    y, y_aligned = logits(model, x), logits(aligned, x)
    assert (y_aligned - y).abs().max().item() <= 1e-4 * max(1.0, y.abs().max().item())
    assert distance(reference, aligned) < distance(reference, model)
