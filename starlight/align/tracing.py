"""Bookkeeping while following channels through a traced graph: layouts of the channel axis and a
union-find over the groups they reference, with the state-dict slices (members) each group owns."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .spec import Group, Member, PermutationSpec, UnsupportedLayerError


@dataclass(frozen=True)
class Segment:
    """A run of a tensor's channel axis that belongs to one group: `size` units of `block` entries each."""

    group: int
    size: int
    block: int = 1


Layout = tuple[Segment, ...]  # a tensor's channel axis (dim 1), segment after segment


class LastAxis(tuple):
    """The layout of a tensor whose hidden units lie along its last axis, not dim 1: an embedding's
    [batch, length, features] output. Only the rules that say so read it (elementwise ops, and the transpose
    that brings the features to dim 1); every other rule refuses it."""


def width(layout: Layout) -> int:
    """Number of entries along the channel axis."""
    return sum(s.size * s.block for s in layout)


def flattened(layout: Layout, inner: int) -> Layout:
    """The layout after flattening (C, *S) into C*prod(S) features, `inner` = prod(S): every channel
    becomes a block of `inner` consecutive features."""
    return tuple(Segment(s.group, s.size, s.block * inner) for s in layout)


def describe(layout: Layout) -> str:
    return "[" + ", ".join(f"{s.size}" + (f"x{s.block}" if s.block > 1 else "") for s in layout) + "]"


class ChannelGroups:
    """Groups created by producers (Linear/Conv outputs) and inputs, merged by residual additions."""

    def __init__(self) -> None:
        self._parent: list[int] = []
        self._fixed: list[bool] = []
        self._size: list[int] = []
        self._producer: list[str] = []
        self._members: list[tuple[int, Member]] = []
        self._called: dict[str, str] = {}  # layer -> the node of its first call

    def new(self, producer: str, size: int, *, fixed: bool = False) -> Layout:
        """A layout of one fresh group of `size` units, named after the layer that produces it."""
        self._parent.append(len(self._parent))
        self._fixed.append(fixed)
        self._size.append(size)
        self._producer.append(producer)
        return (Segment(len(self._parent) - 1, size),)

    def find(self, g: int) -> int:
        while self._parent[g] != g:
            self._parent[g] = self._parent[self._parent[g]]
            g = self._parent[g]
        return g

    def merge(self, layouts: list[Layout], where: str) -> Layout:
        """Layout of an elementwise combination (sum, product) of tensors: their groups become one."""
        first = layouts[0]
        for other in layouts[1:]:
            if [(s.size, s.block) for s in other] != [(s.size, s.block) for s in first]:
                raise UnsupportedLayerError(f"{where}: combines tensors whose channels come from differently "
                                            f"structured groups ({describe(first)} vs {describe(other)})")
            for a, b in zip(first, other):
                ra, rb = self.find(a.group), self.find(b.group)
                if ra != rb:
                    keep, drop = min(ra, rb), max(ra, rb)  # the earlier producer names the merged group
                    self._parent[drop] = keep
                    self._fixed[keep] = self._fixed[keep] or self._fixed[drop]
        return first

    def fix(self, layout: Layout) -> None:
        """These units must keep their order (they reach the output, or come from the input)."""
        for seg in layout:
            self._fixed[self.find(seg.group)] = True

    def add_members(self, key: str, axis: int, layout: Layout) -> None:
        """State-dict entry `key` is indexed along `axis` by the channels of `layout`."""
        offset = 0
        for seg in layout:
            self._members.append((seg.group, Member(key, axis, offset, seg.block)))
            offset += seg.size * seg.block

    def called(self, name: str, module: nn.Module, node: str) -> None:
        """Record a call of layer `name` at graph node `node`; a layer with weights may be called only once
        (each call could need its own permutation of the same weights)."""
        if name in self._called and any(True for _ in module.state_dict()):
            raise UnsupportedLayerError(f"layer {name!r} ({type(module).__name__}) is called more than once, at "
                                        f"nodes {self._called[name]!r} and {node!r}; shared weights are not "
                                        "supported")
        self._called.setdefault(name, node)

    def spec(self) -> PermutationSpec:
        """The groups that may be permuted (not fixed, more than one unit), in order of creation."""
        members: dict[int, list[Member]] = {}
        for g, member in self._members:
            root = self.find(g)
            if not self._fixed[root] and self._size[root] > 1:
                found = members.setdefault(root, [])
                if member not in found:
                    found.append(member)
        return PermutationSpec(tuple(Group(self._producer[root], self._size[root], tuple(members[root]))
                                     for root in sorted(members)))
