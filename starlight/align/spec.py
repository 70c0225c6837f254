"""The permutation spec: which slices of which state-dict entries hold the same hidden units.

Plain data, produced by `groups.permutation_spec` and consumed by `matching` and `apply`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Group", "Member", "PermutationSpec", "UnsupportedLayerError"]


class UnsupportedLayerError(NotImplementedError):
    """A layer or op whose effect on hidden units is not known, so the model cannot be aligned completely."""


@dataclass(frozen=True)
class Member:
    """One place a group's units live: along `axis` of state-dict entry `key`, unit i occupies the entries
    offset + i*block ... offset + (i+1)*block - 1 (block > 1 after a flatten, offset > 0 after a concat)."""

    key: str
    axis: int
    offset: int = 0
    block: int = 1


@dataclass(frozen=True)
class Group:
    """`size` interchangeable units. `name`: the layer that produces them, first in graph order."""

    name: str
    size: int
    members: tuple[Member, ...]


@dataclass(frozen=True)
class PermutationSpec:
    """Every permutable group of a model, in the order their producers appear in the graph."""

    groups: tuple[Group, ...]

    def __post_init__(self) -> None:
        names = [g.name for g in self.groups]
        if len(set(names)) != len(names):
            raise ValueError(f"group names must be unique, got {names}")

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, name: str) -> Group:
        for group in self.groups:
            if group.name == name:
                return group
        raise KeyError(f"no permutation group named {name!r}; groups: {', '.join(self.names)}")

    @property
    def names(self) -> list[str]:
        return [g.name for g in self.groups]

    def by_key(self) -> dict[str, list[tuple[str, Member]]]:
        """For each permuted state-dict entry, (group name, member) of every permuted slice of it."""
        out: dict[str, list[tuple[str, Member]]] = {}
        for group in self.groups:
            for member in group.members:
                out.setdefault(member.key, []).append((group.name, member))
        return out

    def describe(self) -> str:
        """One line per group: name, size and its members, for logs and error messages."""
        lines = []
        for g in self.groups:
            where = ", ".join(f"{m.key}[{m.axis}]" + (f"@{m.offset}" if m.offset else "")
                              + (f"x{m.block}" if m.block > 1 else "") for m in g.members)
            lines.append(f"{g.name} ({g.size}): {where}")
        return "\n".join(lines)
