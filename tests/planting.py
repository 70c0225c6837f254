"""Plant random permutations into a model, independently of `starlight.align`: every architecture's
permutation groups are listed here by hand, from how the architecture is built.

A group is a list of slots (kind, layer, offset, block); unit i of the group sits at entries
offset + i*block ... offset + (i+1)*block - 1 of:
  "out": the layer's output axis (weight rows, bias);   "in": the layer's input axis (weight columns);
  "bn":  a BatchNorm's weight, bias, running_mean and running_var;
  "embed": an Embedding's or EmbeddingBag's weight columns (its dimensions: the units an embedding produces).
The first slot of every group is an "out" or "embed" slot: it gives the group's size.
"""

from __future__ import annotations

import copy
import itertools

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

Slot = tuple[str, str, int, int]


def out(name: str) -> Slot:
    return ("out", name, 0, 1)


def into(name: str, offset: int = 0, block: int = 1) -> Slot:
    return ("in", name, offset, block)


def bn(name: str, offset: int = 0) -> Slot:
    return ("bn", name, offset, 1)


def embed(name: str) -> Slot:
    return ("embed", name, 0, 1)


def group_size(model: nn.Module, slots: list[Slot]) -> int:
    """The number of units of a group: its first slot's output rows, or an embedding's columns."""
    kind, name, _, _ = slots[0]
    assert kind in ("out", "embed"), f"group {slots} must start with an 'out' or 'embed' slot"
    return model.get_submodule(name).weight.shape[1 if kind == "embed" else 0]


@torch.no_grad()
def plant(model: nn.Module, groups: list[list[Slot]], seed: int) -> nn.Module:
    """A copy of `model` with every group permuted at random (the same function, other weights)."""
    planted = copy.deepcopy(model)
    layers = dict(planted.named_modules())
    gen = torch.Generator().manual_seed(seed)
    for slots in groups:
        size = group_size(planted, slots)
        perm = torch.randperm(size, generator=gen)
        for kind, name, offset, block in slots:
            layer = layers[name]
            span = slice(offset, offset + size * block)
            index = (offset + perm[:, None] * block + torch.arange(block)).flatten()
            if kind == "out":
                tensors = [(layer.weight, 0)] + ([(layer.bias, 0)] if layer.bias is not None else [])
            elif kind in ("in", "embed"):
                tensors = [(layer.weight, 1)]
            else:
                tensors = [(t, 0) for t in (layer.weight, layer.bias, layer.running_mean, layer.running_var)
                           if t is not None]
            for t, axis in tensors:
                view = t if axis == 0 else t.transpose(0, 1)
                view[span] = view[index].clone()
    return planted


def chain_groups(model: nn.Module) -> list[list[Slot]]:
    """A plain chain (MLP, CNN, VGG, conv -> flatten -> linear): every Linear/Conv but the last produces a
    group, read by the BatchNorms after it and the next Linear/Conv (one block of features per channel
    when a flatten lies between them)."""
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d, _BatchNorm))]
    producers = [i for i, (_, m) in enumerate(layers) if not isinstance(m, _BatchNorm)]
    groups = []
    for i, j in itertools.pairwise(producers):
        name, layer = layers[i]
        slots = [out(name)] + [bn(n) for n, _ in layers[i + 1:j]]
        next_name, next_layer = layers[j]
        block = next_layer.weight.shape[1] // layer.weight.shape[0]
        groups.append(slots + [into(next_name, block=block)])
    return groups


def resnet_groups(model: nn.Module, shortcut: str, head: str) -> list[list[Slot]]:
    """ResNet with BasicBlocks (pytorch-cifar: shortcut "shortcut", head "linear"; torchvision: "downsample",
    "fc"). Each block's conv1 output is its own group; the residual stream runs from the stem (or a block's
    projection shortcut) through every identity-shortcut block, whose conv2 outputs add onto it."""
    groups = []
    stream = [out("conv1"), bn("bn1")]
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        for i, block in enumerate(getattr(model, stage)):
            p = f"{stage}.{i}"
            groups.append([out(f"{p}.conv1"), bn(f"{p}.bn1"), into(f"{p}.conv2")])
            stream.append(into(f"{p}.conv1"))
            projection = getattr(block, shortcut)
            if projection is not None and len(projection) > 0:
                groups.append(stream + [into(f"{p}.{shortcut}.0")])
                stream = [out(f"{p}.{shortcut}.0"), bn(f"{p}.{shortcut}.1")]
            stream += [out(f"{p}.conv2"), bn(f"{p}.bn2")]
    groups.append(stream + [into(head)])
    return groups


def densenet_groups(model: nn.Module) -> list[list[Slot]]:
    """DenseNet-40 (no bottleneck): every conv produces a group; a dense layer's BN and conv read the
    concatenation of all earlier groups of its block, each at its offset; a transition's output restarts it."""
    groups = [[out("conv1")]]
    concatenated = [(0, model.conv1.out_channels)]  # (group index, channels), in concatenation order

    def read(bn_name: str, layer: str) -> None:
        offset = 0
        for g, channels in concatenated:
            groups[g] += [bn(bn_name, offset), into(layer, offset)]
            offset += channels

    for b in (1, 2, 3):
        for i, layer in enumerate(getattr(model, f"block{b}").layer):
            read(f"block{b}.layer.{i}.bn1", f"block{b}.layer.{i}.conv1")
            groups.append([out(f"block{b}.layer.{i}.conv1")])
            concatenated.append((len(groups) - 1, layer.conv1.out_channels))
        if b < 3:
            read(f"trans{b}.bn1", f"trans{b}.conv1")
            groups.append([out(f"trans{b}.conv1")])
            concatenated = [(len(groups) - 1, getattr(model, f"trans{b}").conv1.out_channels)]
    read("bn1", "fc")
    return groups


def wrn_groups(model: nn.Module) -> list[list[Slot]]:
    """Pre-activation WideResNet: each block's conv1 output is its own group (read by bn2, conv2); the
    stream runs from the stem (or a block's 1x1 shortcut conv) through the blocks adding their conv2
    output onto it, and is read by each block's bn1, conv1 (and shortcut conv) and the final bn1, fc."""
    groups = []
    stream = [out("conv1")]
    for g in (1, 2, 3):
        for i, block in enumerate(getattr(model, f"block{g}").layer):
            p = f"block{g}.layer.{i}"
            groups.append([out(f"{p}.conv1"), bn(f"{p}.bn2"), into(f"{p}.conv2")])
            stream += [bn(f"{p}.bn1"), into(f"{p}.conv1")]
            if block.convShortcut is not None:
                groups.append(stream + [into(f"{p}.convShortcut")])
                stream = [out(f"{p}.convShortcut")]
            stream.append(out(f"{p}.conv2"))
    groups.append(stream + [bn("bn1"), into("fc")])
    return groups


def text_bag_groups(model: nn.Module) -> list[list[Slot]]:
    """A bag of embeddings: the embedding's dimensions, averaged over the text and read by the head."""
    return [[embed("embedding"), into("fc")]]


def text_cnn_groups(model: nn.Module) -> list[list[Slot]]:
    """Convolutions over an embedding: the embedding's dimensions are every convolution's input channels; each
    convolution's filters are a group of their own, max-pooled over time and read by the head at their offset in
    the concatenation."""
    convs = [f"convs.{i}" for i in range(len(model.convs))]
    groups = [[embed("embedding")] + [into(c) for c in convs]]
    offset = 0
    for c in convs:
        groups.append([out(c), into("fc", offset)])
        offset += model.get_submodule(c).out_channels
    return groups
