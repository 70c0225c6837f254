"""Content-keyed outputs: a job that makes many outputs redoes only those whose inputs changed.

A barrier job evaluates a batch of pairs (all pairs of one model). Snakemake reruns the whole batch when any of
its inputs changes (one more held-out model, a retrained star), so each pair's outputs carry a key, the digest of
everything they are made of: the contents of both checkpoints, the pair, the job's params (its code fingerprint
included) and the versions of the libraries that shape results. The key is written next to the outputs
(`<stem>.key`), after them; a rerun finds an equal key beside outputs that exist and keeps them as they are
(`fresh`), and recomputes every other pair. A job killed between writing a pair's outputs and its key only
recomputes that pair.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..io.checkpoint import atomic_write
from .code import versions
from .job import file_digest

KEY_SUFFIX = ".key"


def pair_key(pair: tuple[str, str, str], checkpoints: tuple[str, str], params: dict) -> str:
    """The digest of what one pair's outputs are made of."""
    what = {"pair": list(pair), "checkpoints": [file_digest(p) for p in checkpoints], "params": params,
            "versions": versions()}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def key_file(stem: str) -> Path:
    return Path(stem + KEY_SUFFIX)


def fresh(stem: str, outputs: list[str], key: str) -> bool:
    """Whether the outputs at `stem` exist and were made from exactly `key`."""
    path = key_file(stem)
    return path.is_file() and path.read_text().strip() == key and all(Path(p).is_file() for p in outputs)


def forget(stem: str) -> None:
    """Drop the key before the outputs are rewritten: a half-written pair is never taken for a fresh one."""
    key_file(stem).unlink(missing_ok=True)


def remember(stem: str, key: str) -> None:
    atomic_write(str(key_file(stem)), lambda tmp: Path(tmp).write_text(key + "\n"))
