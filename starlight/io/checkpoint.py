"""Checkpoints: written atomically, read with `weights_only=True`, checked against the expected architecture."""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..models import model_config
from .phases import phase

FORMAT = "starlight-model-v1"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, unsafe, or of the wrong architecture."""


@phase("write")
def atomic_write(path: str | Path, write) -> None:
    """Call `write(tmp_path)`, then rename onto `path`: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a writer that was killed
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@phase("write")
def save_torch(obj: Any, path: str | Path) -> None:
    """`torch.save` via an in-memory buffer: torch names the archive's inner folder after the file it
    writes, so saving straight to a randomly named temporary file would make identical runs differ."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(buffer.getvalue()))


def save_json(obj: Any, path: str | Path) -> None:
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.write("\n")

    atomic_write(path, write)


def save_model(model: nn.Module, model_cfg: dict, path: str | Path, extra: dict | None = None) -> None:
    """Our checkpoint: format tag, model config, state dict, and `extra` entries (tensors, lists, numbers)."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    save_torch({**(extra or {}), "format": FORMAT, "model": dict(model_cfg), "state_dict": state}, path)


def load_extra(path: str | Path, key: str) -> Any:
    """Entry `key` of one of our checkpoints (saved by `save_model(..., extra=...)`), None where it has none."""
    obj = load_torch(Path(path))
    return obj.get(key) if isinstance(obj, dict) and obj.get("format") == FORMAT else None


@phase("write")
def archive(paths: list[str | Path], archive_dir: str | Path, tag: str) -> list[Path]:
    """Hard-link finished files into `archive_dir` as `<tag>.<suffix>` (a copy where links fail).

    Snakemake deletes a job's outputs before it reruns it (config edited, --forcerun): the archive
    keeps every finished model, so no rerun loses one. Links cost no space while both names exist.
    """
    kept = []
    for path in map(Path, paths):
        kept.append(link(path, Path(archive_dir) / f"{tag}{path.suffix}"))
    return kept


def link(source: Path, target: Path) -> Path:
    """Hard-link `source` as `target` (a copy where links fail), atomically: a reader sees the whole file or none."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copy2(source, tmp)
    os.replace(tmp, target)
    return target


@phase("load")
def load_torch(path: str | Path) -> Any:
    """`torch.load(weights_only=True)` with errors that name the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"checkpoint {path} was refused by weights-only loading (it carries code or objects other than "
            f"tensors): {str(exc).splitlines()[0]}"
        ) from exc
    except Exception as exc:  # a corrupt file makes the legacy unpickler raise almost anything
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt: {type(exc).__name__}: {first_line}") from exc


# Where common checkpoint formats keep the state dict: pytorch-cifar saves {"net": sd, "acc": ..., "epoch": ...},
# many training scripts {"state_dict": sd, ...}, {"model": sd, ...} or {"model_state_dict": sd, ...}.
STATE_DICT_WRAPPERS = ("net", "state_dict", "model", "model_state_dict")
DATA_PARALLEL_PREFIX = "module."
BN_COUNTER = ".num_batches_tracked"


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _check_architecture(path: Path, saved_cfg: dict, model_cfg: dict) -> None:
    """Compare what the checkpoint's model and the configured one read (models.model_config), nothing else."""
    try:
        saved = model_config(saved_cfg)
    except ValueError as exc:
        raise CheckpointError(f"checkpoint {path} was saved for a model this version cannot build ({exc})") from exc
    wanted = model_config(model_cfg)
    keys = list(dict.fromkeys([*saved, *wanted]))
    diff = {k: (saved.get(k), wanted.get(k)) for k in keys if saved.get(k) != wanted.get(k)}
    if diff:
        detail = ", ".join(f"{k}: checkpoint {a!r} vs config {b!r}" for k, (a, b) in diff.items())
        raise CheckpointError(f"checkpoint {path} has a different architecture ({detail})")


def load_state_dict(path: str | Path, model_cfg: dict | None = None) -> dict[str, torch.Tensor]:
    """Read a model checkpoint and return its state dict: ours (architecture checked against `model_cfg`), a
    plain state dict, or one inside a common wrapper (STATE_DICT_WRAPPERS); DataParallel's `module.` prefix is
    removed."""
    path = Path(path)
    obj = load_torch(path)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        if model_cfg is not None:
            _check_architecture(path, obj["model"], model_cfg)
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and not _is_state_dict(obj):
        obj = next((obj[k] for k in STATE_DICT_WRAPPERS if _is_state_dict(obj.get(k))), obj)
    if not _is_state_dict(obj):
        what = f"top-level keys: {', '.join(map(str, list(obj)[:8]))}" if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"checkpoint {path} holds no state dict of tensors ({what}); expected a state dict, "
                              f"or one under {', '.join(repr(k) for k in STATE_DICT_WRAPPERS)}")
    if all(k.startswith(DATA_PARALLEL_PREFIX) for k in obj):
        obj = {k[len(DATA_PARALLEL_PREFIX):]: v for k, v in obj.items()}
    return obj


def load_into(model: nn.Module, path: str | Path, model_cfg: dict | None = None) -> nn.Module:
    """Load a checkpoint into `model`, refusing missing, unexpected or wrongly shaped tensors."""
    state = load_state_dict(path, model_cfg)
    own = model.state_dict()
    # PyTorch < 0.4.1 saved BN layers without their batch counter; torch's own loader fills it in as 0 too.
    state = {**{k: torch.zeros_like(v) for k, v in own.items() if k.endswith(BN_COUNTER) and k not in state}, **state}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:4])}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:4])}")
        if shapes:
            parts.append(f"shape mismatch {'; '.join(shapes[:4])}")
        raise CheckpointError(f"checkpoint {path} does not fit the configured model ({'; '.join(parts)})")
    model.load_state_dict(state)
    return model
