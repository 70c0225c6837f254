"""Code fingerprints: which source a pipeline step runs, as one hash that changes exactly when that code does.

Snakemake tracks a `script:` rule's code by the script file alone (and by its modification time), and all of
our logic lives in this package. A step's fingerprint is the hash of every module of the package it imports,
found statically: the closure of `import` statements (module-level and inside functions) from the step's
module in `starlight.jobs`. The model and dataset registries import every architecture and every source
format; of those, only the entries the experiment selects count, so a fix to `models/vgg.py` does not retrain
MLPs. Each source is hashed through its syntax tree (`ast.dump`): comments, blank lines and formatting do not
change a fingerprint, and neither does a checkout that leaves every file's content as it was.

The rules carry the fingerprint in their `params`, so Snakemake reruns a job (and what depends on it) when its
code changes; the jobs record it, with the versions of the libraries that shape results, in their outputs.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path

PACKAGE = "starlight"
ROOT = Path(__file__).resolve().parents[1]  # the starlight package
# The libraries whose versions every output records.
LIBRARIES = ("torch", "torchvision", "rebasin")


def module_file(name: str) -> Path | None:
    """The source file of `starlight.<...>` module or package `name`, or None if there is none."""
    rel = Path(*name.split(".")[1:])
    for candidate in (ROOT / rel / "__init__.py", (ROOT / rel).with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


@cache
def _parsed(path: Path) -> tuple[str, frozenset[str]]:
    """(normalised source, names imported) of one file; absolute names, package-internal imports only."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    name = ".".join((PACKAGE, *path.relative_to(ROOT).with_suffix("").parts))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    package = package.removesuffix(".__init__")
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == PACKAGE:
                target = node.module
            else:
                continue
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)  # `from . import x` may name a module
    return ast.dump(tree, annotate_fields=False), frozenset(found)


def closure(roots: Iterable[str], skip: frozenset[str] = frozenset()) -> list[str]:
    """Every package module the `roots` import, directly or not, including the packages they live in."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name in skip or module_file(name) is None:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # importing a.b.c runs a and a.b first
        todo += _parsed(module_file(name))[1]
    return sorted(seen)


def _entry_module(value) -> str:
    """The module that defines a registry entry: a builder function (or a partial of one), or an object with a
    `module` of its own."""
    value = getattr(value, "func", value)  # functools.partial
    return getattr(value, "module", None) or value.__module__


@cache
def _registry_entries() -> dict[str, dict[str, str]]:
    """{registry module: {entry name: the module defining it}} of the model and dataset registries."""
    from ..data import DATASETS
    from ..models import MODELS

    return {"starlight.models": {k: _entry_module(v) for k, v in MODELS.items()},
            "starlight.data": {k: _entry_module(v) for k, v in DATASETS.items()}}


def selected_entries(exp: dict | None) -> frozenset[str]:
    """The registry entry modules an experiment uses: its model's and its dataset's."""
    if exp is None:
        return frozenset()
    entries = _registry_entries()
    chosen = {"starlight.models": exp.get("model", {}).get("name"), "starlight.data": exp.get("dataset")}
    return frozenset(entries[reg][name] for reg, name in chosen.items() if name in entries[reg])


@cache
def _fingerprint(step: str, chosen: frozenset[str], scripts: tuple[str, ...]) -> str:
    unused = frozenset(m for reg in _registry_entries().values() for m in reg.values()) - chosen
    digest = hashlib.sha256()
    for name in closure([f"{PACKAGE}.jobs.{step}", *chosen], skip=unused):
        digest.update(f"{name}\0{_parsed(module_file(name))[0]}\0".encode())
    for script in scripts:
        digest.update(f"{Path(script).name}\0{ast.dump(ast.parse(Path(script).read_bytes()))}\0".encode())
    return digest.hexdigest()[:16]


def fingerprint(step: str, exp: dict | None = None, scripts: Iterable[str | Path] = ()) -> str:
    """The fingerprint of pipeline step `step` (a module of `starlight.jobs`) for experiment `exp`, also
    covering the workflow `scripts` that call it."""
    return _fingerprint(step, selected_entries(exp), tuple(str(s) for s in scripts))


def modules_of(step: str, exp: dict | None = None) -> list[str]:
    """The package modules step `step` runs for `exp` (what its fingerprint covers)."""
    unused = frozenset(m for reg in _registry_entries().values() for m in reg.values()) - selected_entries(exp)
    return closure([f"{PACKAGE}.jobs.{step}", *selected_entries(exp)], skip=unused)


@cache
def versions() -> dict[str, str | None]:
    """Installed versions of the libraries that shape results."""
    out = {}
    for lib in LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = None
    return out
