"""What the generated datasets (synthetic, synthetic_text) share: nothing to fetch, and data that is a pure function
of their settings. The settings come from the experiment's `data.<section>`, and the prepared file's name spells
them all, so experiments with other settings never share a file."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import torch

from .base import InMemoryDataset
from .spec import DataError


@dataclass(frozen=True)
class GeneratedDataset(InMemoryDataset):
    """A subclass names its config `section` and the `stem_pattern` of its file names, and implements
    `settings_of(numbers)` (the settings a file name's numbers spell) and `generate(settings)`. Its settings
    class offers `from_config(section or None)` and `stem`."""

    section: ClassVar[str]
    stem_pattern: ClassVar[re.Pattern]
    settings: Any = None
    title: str = ""

    def configured(self, data_cfg: dict) -> GeneratedDataset:
        return replace(self, settings=type(self.settings).from_config(data_cfg.get(self.section)))

    @property
    def file_stem(self) -> str:
        return self.settings.stem

    def from_stem(self, stem: str) -> GeneratedDataset:
        match = self.stem_pattern.fullmatch(stem)
        if match is None:
            raise DataError(f"{stem!r} is not {self.title}'s file name (expected e.g. {self.file_stem!r})")
        return replace(self, settings=self.settings_of([int(n) for n in match.groups()]))

    def settings_of(self, numbers: list[int]) -> Any:
        raise NotImplementedError

    def generate(self, settings: Any) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def check_available(self, data_root: str | None, allow_download: bool) -> None:
        """Always available: it is generated."""

    def stage(self, dest: str | Path, data_root: str | None = None, allow_download: bool = False) -> Path:
        """Nothing to fetch: record the settings the data will be generated from."""
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "settings.json").write_text(json.dumps(asdict(self.settings)))
        return dest

    def read(self, staged: str | Path) -> dict[str, torch.Tensor]:
        return self.generate(self.settings)
