"""Settings that moved: a config that still uses an old key is refused with the key's new place, every such key in
one message, so an existing config migrates in one edit.

`moved(config)` reads the config as given (before protocols are expanded and before the schema fills in defaults):
each experiment, each protocol (starlight/pipeline/protocols.py) and the dotted keys of their sweeps.
"""

from __future__ import annotations

# (section, old key) -> (section, new key). Alignment and BN re-estimation are used by more than the barriers.
MOVED = {
    ("barrier", "align_method"): ("alignment", "method"),
    ("barrier", "align_seed"): ("alignment", "seed"),
    ("barrier", "bn_subset"): ("bn", "subset"),
    ("barrier", "bn_seed"): ("bn", "seed"),
}


def _entries(config: dict):
    """(where, experiment-like section) of every experiment and protocol."""
    for top in ("experiments", "protocols"):
        for name, section in (config.get(top) or {}).items():
            if isinstance(section, dict):
                yield f"{top}.{name}", section


def moved(config: dict) -> list[str]:
    """`<old place>: moved to <new place>` for every old key the config uses, in the config's order."""
    out = []
    for where, exp in _entries(config):
        for (section, key), (new_section, new_key) in MOVED.items():
            if isinstance(exp.get(section), dict) and key in exp[section]:
                out.append(f"{where}.{section}.{key}: moved to {where}.{new_section}.{new_key}")
        for axis, values in (exp.get("sweep") or {}).items():
            section, _, key = axis.partition(".")
            if (section, key) in MOVED:
                new_section, new_key = MOVED[section, key]
                out.append(f"{where}.sweep.{axis}: moved to {where}.sweep.{new_section}.{new_key}")
            elif axis == "barrier" and isinstance(values, list):  # a section-valued axis: {bn_subset: ..., ...}
                old = sorted({k for v in values if isinstance(v, dict) for k in v if ("barrier", k) in MOVED})
                out += [f"{where}.sweep.barrier: its values' {k}: moved to {where}.sweep."
                        f"{'.'.join(MOVED['barrier', k])}" for k in old]
    return out


def message(config: dict) -> str | None:
    """The refusal naming every moved key's new place, or None when the config uses none."""
    found = moved(config)
    if not found:
        return None
    return ("invalid config: settings that moved (give each its new place and run again):\n"
            + "\n".join(f"  {line}" for line in found))
