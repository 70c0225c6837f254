"""Reading a model section's keys: each reader checks one key and raises a ValueError naming it and the rule.

Every model module declares `KEYS`, the model-section keys it reads mapped to their defaults (None: the key is
required); its builder reads them through these functions, so the defaults live in one place. Errors are
ModelConfigErrors (ValueErrors) naming the key and the rule.
"""

from __future__ import annotations

import math
import numbers


class ModelConfigError(ValueError):
    """A model-section value a builder refuses; the message names the key (`model.<key>=<value>`) and the rule."""


def _value(cfg: dict, keys: dict, key: str, model: str):
    value = cfg.get(key, keys[key])
    if value is None:
        raise ModelConfigError(f"model.{key} is required for {model}")
    return value


def integer(cfg: dict, keys: dict, key: str, model: str, minimum: int = 1, maximum: int | None = None) -> int:
    value = _value(cfg, keys, key, model)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ModelConfigError(f"model.{key}={value!r}: {model} needs an integer")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"{minimum} ≤ {key} ≤ {maximum}" if maximum is not None else f"{key} ≥ {minimum}"
        raise ModelConfigError(f"model.{key}={value}: {model} needs {bound}")
    return int(value)


def flag(cfg: dict, keys: dict, key: str, model: str) -> bool:
    value = _value(cfg, keys, key, model)
    if not isinstance(value, bool):
        raise ModelConfigError(f"model.{key}={value!r}: {model} needs true or false")
    return value


def _number(cfg: dict, keys: dict, key: str, model: str):
    value = _value(cfg, keys, key, model)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ModelConfigError(f"model.{key}={value!r}: {model} needs a finite number")
    return value


def width_multiplier(cfg: dict, keys: dict, model: str) -> float:
    """m > 0: every channel count c of the architecture becomes `scaled(c, m)`."""
    m = _number(cfg, keys, "width_multiplier", model)
    if not m > 0:
        raise ModelConfigError(f"model.width_multiplier={m}: {model} needs width_multiplier > 0")
    return float(m)


def dropout(cfg: dict, keys: dict, model: str) -> float:
    p = _number(cfg, keys, "dropout", model)
    if not 0 <= p < 1:
        raise ModelConfigError(f"model.dropout={p}: {model} needs 0 ≤ dropout < 1")
    return float(p)


def scaled(channels: int, m: float) -> int:
    """A channel count times the width multiplier: max(1, round(channels·m)) (Python's round)."""
    return max(1, round(channels * m))


def image_at_least(in_shape: tuple[int, ...], size: int, key: str, value, model: str, why: str) -> None:
    """Refuse inputs smaller than size×size, naming the key (and its value) that sets the limit."""
    if len(in_shape) != 3 or min(in_shape[1:]) < size:
        raise ModelConfigError(f"model.{key}={value!r}: {model} needs images of at least {size}×{size} ({why}); "
                               f"got input shape {tuple(in_shape)}")
