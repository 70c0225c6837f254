"""Models refused as a whole, before any tracing: a network wrapped for data parallelism (its wrapper is
not the network to align) and weights shared between modules (one tensor cannot take two permutations)."""

from __future__ import annotations

from itertools import chain

import torch
from torch import nn
from torch.nn.parallel import DataParallel, DistributedDataParallel

from .spec import UnsupportedLayerError

__all__ = ["refuse_shared_weights", "refuse_wrapped"]

WRAPPERS = (DataParallel, DistributedDataParallel)


def refuse_wrapped(model: nn.Module, argument: str = "model") -> None:
    """Raise TypeError for a DataParallel / DistributedDataParallel wrapper: align the network it wraps."""
    if isinstance(model, WRAPPERS):
        name = type(model).__name__
        raise TypeError(f"the {argument} is wrapped in {name}: pass the network it wraps, `{argument}.module` "
                        f"(its state dict has no 'module.' prefix); {name} itself cannot be aligned")


def refuse_shared_weights(model: nn.Module) -> None:
    """Raise `UnsupportedLayerError` naming both modules if one parameter or buffer belongs to two modules
    (`self.b.weight = self.a.weight`, or one layer registered under two names)."""
    owners: dict[int, str] = {}
    tensors: chain[tuple[str, torch.Tensor]] = chain(model.named_parameters(remove_duplicate=False),
                                                     model.named_buffers(remove_duplicate=False))
    for key, tensor in tensors:
        first = owners.setdefault(id(tensor), key)
        if first != key:
            module, other = _module_of(first), _module_of(key)
            raise UnsupportedLayerError(
                f"modules {module!r} and {other!r} share one tensor ({first!r} is {key!r}); shared weights are "
                "not supported: each use could need its own permutation")


def _module_of(key: str) -> str:
    """The module that holds state-dict entry `key` ("<model>" for the model's own parameters)."""
    return key.rpartition(".")[0] or "<model>"
