"""Pretrained populations: which checkpoint each model takes from a `pretrained` folder, and the checks that keep
the populations apart (a held-out model that is secretly an anchor makes every star–held-out barrier meaningless).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

POPULATIONS = {"anchor": "anchors", "heldout": "heldout"}


class PretrainedError(ValueError):
    """A pretrained folder is missing, too small, or shares models with another population."""


def checkpoints_in(folder: str | Path) -> list[Path]:
    return sorted(Path(folder).glob("*.pt"))


def files(exp: dict, population: str) -> list[Path]:
    """The checkpoints a population (`anchors` or `heldout`) takes from its `pretrained` folder, in order."""
    folder = exp[population].get("pretrained")
    if not folder:
        return []
    return checkpoints_in(folder)[: exp[population]["count"]]


def file_of(exp: dict, role: str, seed: int) -> str | None:
    """The pretrained checkpoint of model `role-seed`, or None when that population is trained."""
    population = POPULATIONS[role]
    chosen = files(exp, population)
    return str(chosen[seed - exp[population]["seed_start"]]) if chosen else None


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check(where: str, exp: dict, contents: bool = True) -> None:
    """Folders exist and hold enough checkpoints; no file serves two models, within or across populations.

    With `contents`, files are compared by content (SHA-256), which reads every used checkpoint once."""
    used: dict[str, list[Path]] = {}
    for population in POPULATIONS.values():
        folder = exp[population].get("pretrained")
        if not folder:
            continue
        if not Path(folder).is_dir():
            raise PretrainedError(f"{where}.{population}.pretrained: folder {folder!r} does not exist")
        found = len(checkpoints_in(folder))
        if found < exp[population]["count"]:
            raise PretrainedError(f"{where}.{population}.pretrained: folder {folder!r} holds {found} checkpoint(s) "
                                  f"(*.pt) but {population}.count is {exp[population]['count']}")
        used[population] = files(exp, population)
    if len(used) == 2 and os.path.realpath(exp["anchors"]["pretrained"]) == os.path.realpath(
            exp["heldout"]["pretrained"]):
        raise PretrainedError(f"{where}: anchors.pretrained and heldout.pretrained are the same folder "
                              f"({exp['anchors']['pretrained']!r}): the held-out models would be the anchors")
    seen: dict[str, tuple[str, Path]] = {}
    for population, paths in used.items():
        for path in paths:
            key = _digest(path) if contents else os.path.realpath(path)
            if key in seen:
                other_population, other = seen[key]
                raise PretrainedError(
                    f"{where}: {population}.pretrained file {str(path)!r} is the same model as "
                    f"{other_population}.pretrained file {str(other)!r} (identical content): every model of "
                    f"the anchor and held-out populations must be distinct")
            seen[key] = (population, path)
