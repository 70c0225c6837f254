"""Protocols: settings several experiments share, written once.

A config may define named protocols at its top level, each a partial experiment:

    protocols:
      cifar: {data: {...}, train: {...}, star: {...}, barrier: {...}, bn: {...}}

and an experiment that says `protocol: cifar` starts from it. Its own keys win: sections merge key by key, a list
or a value replaces the protocol's, and a key set to null drops the protocol's value, so the schema's default
applies (`max_pairs: null` measures every pair; `crop: null` is the dataset's default). The protocols usually
live in a file of their own given first, `--configfile config/paper/protocol.yaml config/paper/X.yaml`: snakemake
merges the files in order. The workflow expands protocols before it validates the config, so the experiments it
runs, checks and records hold every setting and no `protocol` key.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

PROTOCOLS = "protocols"
KEY = "protocol"


class ProtocolError(ValueError):
    """An experiment names a protocol no config file defines, or a protocol is not a section."""


def merge(base: dict, own: dict) -> dict:
    """`base` updated by `own`: sections merged key by key, anything else replaced, null dropping the key."""
    out = copy.deepcopy(base)
    for key, value in own.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def defined_in(name: str, folder: Path) -> list[Path]:
    """The config files under `folder` that define protocol `name`."""
    found = []
    for path in sorted(folder.rglob("*.yaml")):
        try:
            config = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(config, dict) and name in (config.get(PROTOCOLS) or {}):
            found.append(path)
    return found


def _missing(where: str, name: str, config_dir: Path | None, given: list[str]) -> ProtocolError:
    """The refusal of a protocol no given file defines, naming the file that does and the command that gives it."""
    files = defined_in(name, config_dir) if config_dir else []
    if not files:
        return ProtocolError(f"{where}.{KEY}: no config file defines protocol {name!r}; define it under "
                             f"`{PROTOCOLS}:` in a config file given before this one")
    first = files[0].relative_to(config_dir.parent)
    return ProtocolError(f"{where}.{KEY}: protocol {name!r} is defined in {first}, which was not given; add it "
                         f"before the experiment's file: --configfile {' '.join([str(first), *given])}")


def expand(config: dict, config_dir: Path | None = None, given: list[str] = ()) -> dict:
    """The config with every experiment's protocol applied and its `protocol` key removed, without the `protocols`
    section. A protocol no file defines is refused naming the file under `config_dir` that does, and the command
    with it added before the files `given`."""
    protocols = config.get(PROTOCOLS) or {}
    if not isinstance(protocols, dict):
        raise ProtocolError(f"{PROTOCOLS}: give a section of named protocols, got {protocols!r}")
    out = {k: v for k, v in config.items() if k != PROTOCOLS}
    experiments = {}
    for name, exp in (config.get("experiments") or {}).items():
        if not isinstance(exp, dict) or KEY not in exp:
            experiments[name] = exp
            continue
        chosen = exp[KEY]
        if not isinstance(chosen, str):
            raise ProtocolError(f"experiments.{name}.{KEY}: give the name of a protocol, got {chosen!r}")
        if chosen not in protocols:
            raise _missing(f"experiments.{name}", chosen, config_dir, list(given))
        if not isinstance(protocols[chosen], dict) or KEY in protocols[chosen]:
            raise ProtocolError(f"{PROTOCOLS}.{chosen}: give a partial experiment (its sections, no `{KEY}` of "
                                f"its own)")
        experiments[name] = merge(protocols[chosen], {k: v for k, v in exp.items() if k != KEY})
    if "experiments" in config:
        out["experiments"] = experiments
    return out
