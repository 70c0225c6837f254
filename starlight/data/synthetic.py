"""A synthetic dataset of any image shape and class count, for tests and smoke runs: learnable, seeded, no files.

Each class has a prototype: a colour (a per-channel offset) plus two plane waves of class-specific orientation,
frequency and phase. An image is its class's prototype plus Gaussian pixel noise, scaled into uint8 around 128.
Colour survives crops and flips, so the classes stay separable under augmentation; a tiny model gets well above
chance in an epoch. The settings live in the experiment's `data.synthetic` section, and the prepared file's name
spells them all (`resources/synthetic-3x32x32-10classes-2000train-500test-seed0.pt`), so experiments with other
settings never share a file.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import ClassVar

import torch

from .generated import GeneratedDataset
from .spec import DataError, DatasetSpec

STEM = re.compile(r"synthetic-(\d+)x(\d+)x(\d+)-(\d+)classes-(\d+)train-(\d+)test-seed(\d+)")
NOISE = 0.6  # pixel noise, relative to the prototypes' spread
CHUNK = 8192  # images generated at once, to bound memory


@dataclass(frozen=True)
class SyntheticSettings:
    """Defaults as in the schema's `data.synthetic` (a test checks they agree)."""

    shape: tuple[int, int, int] = (3, 32, 32)
    classes: int = 10
    train_size: int = 2000
    test_size: int = 500
    seed: int = 0

    @classmethod
    def from_config(cls, cfg: dict | None) -> SyntheticSettings:
        cfg = {**asdict(cls()), **(cfg or {})}
        if len(cfg["shape"]) != 3:
            raise DataError(f"data.synthetic.shape must be [channels, height, width], got {cfg['shape']}")
        return cls(tuple(int(v) for v in cfg["shape"]), int(cfg["classes"]), int(cfg["train_size"]),
                   int(cfg["test_size"]), int(cfg["seed"]))

    @property
    def stem(self) -> str:
        c, h, w = self.shape
        return (f"synthetic-{c}x{h}x{w}-{self.classes}classes-{self.train_size}train-{self.test_size}test"
                f"-seed{self.seed}")


def _prototypes(s: SyntheticSettings, g: torch.Generator) -> torch.Tensor:
    """[classes, C, H, W]: each class's colour plus two plane waves, values roughly in [-1, 1]."""
    c, h, w = s.shape
    k = s.classes
    colour = torch.rand(k, c, 1, 1, generator=g) * 2 - 1
    colour -= colour.mean(0)  # pixels average 128 whatever the draws
    angle = torch.rand(k, 2, 1, 1, generator=g) * math.pi
    freq = 1 + torch.rand(k, 2, 1, 1, generator=g) * 3  # cycles across the image
    phase = torch.rand(k, 2, 1, 1, generator=g) * 2 * math.pi
    weight = torch.rand(k, 2, c, generator=g) * 2 - 1
    ys, xs = torch.meshgrid(torch.arange(h) / h, torch.arange(w) / w, indexing="ij")
    waves = torch.cos(2 * math.pi * freq * (angle.cos() * xs + angle.sin() * ys) + phase)  # [k, 2, H, W]
    pattern = torch.einsum("kwc,kwhx->kchx", weight, waves) / 2
    return 0.5 * colour + 0.5 * pattern


def _images(prototypes: torch.Tensor, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    k = prototypes.shape[0]
    labels = (torch.arange(n) % k)[torch.randperm(n, generator=g)]
    chunks = []
    for start in range(0, n, CHUNK):
        y = labels[start:start + CHUNK]
        x = prototypes[y] + NOISE * torch.randn(len(y), *prototypes.shape[1:], generator=g)
        chunks.append((128 + 64 * x).round().clamp(0, 255).to(torch.uint8))
    return torch.cat(chunks), labels


def generate(s: SyntheticSettings) -> dict[str, torch.Tensor]:
    """The dataset of `s`: a pure function of the settings."""
    g = torch.Generator().manual_seed(s.seed)
    prototypes = _prototypes(s, g)
    train_x, train_y = _images(prototypes, s.train_size, g)
    test_x, test_y = _images(prototypes, s.test_size, g)
    return {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}


@dataclass(frozen=True)
class SyntheticDataset(GeneratedDataset):
    section: ClassVar[str] = "synthetic"
    stem_pattern: ClassVar[re.Pattern] = STEM
    settings: SyntheticSettings = SyntheticSettings()
    title: str = "the synthetic dataset"

    @property
    def spec(self) -> DatasetSpec:
        s = self.settings
        # Pixels are 128 + 64·x, x of standard deviation about 0.68 (colour, waves and noise): in the [0, 1]
        # range, mean 0.5 and std 0.17.
        return DatasetSpec("synthetic", s.shape, s.classes, (0.5,) * s.shape[0], (0.17,) * s.shape[0],
                           s.train_size, s.test_size, val_size=max(1, s.train_size // 10))

    def settings_of(self, numbers: list[int]) -> SyntheticSettings:
        return SyntheticSettings(tuple(numbers[:3]), *numbers[3:])

    def generate(self, settings: SyntheticSettings) -> dict[str, torch.Tensor]:
        return generate(settings)


SYNTHETIC = SyntheticDataset()
