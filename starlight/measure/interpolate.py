"""The straight path between two models' parameters: the one operation the barriers and the segment ensembles
share, kept apart so that a change to how barriers are measured does not touch the ensembles."""

from __future__ import annotations

import torch


def interpolate_state(sd1: dict[str, torch.Tensor], sd2: dict[str, torch.Tensor], t: float) -> dict[str, torch.Tensor]:
    """(1−t)·sd1 + t·sd2 for floating tensors; integer buffers (BN batch counters) are taken from sd1."""
    return {k: torch.lerp(v, sd2[k].to(v.dtype), t) if v.is_floating_point() else v.clone()
            for k, v in sd1.items()}
