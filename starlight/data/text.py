"""What the text datasets share: the experiment's `data.text` settings, the prepared file (token ids, offsets and
labels of both splits, and the vocabulary) and the splits cut from it.

`data.text.min_freq` and `max_size` shape the vocabulary (tokenize.py), so the prepared file's name spells them
(`resources/ag_news-min1-max100000.pt`): experiments with other vocabularies never share a file.
`data.text.length` is where texts are cut and padded to; it does not change the file. The models' embedding
tables have `max_size` rows (the spec's shape is (max_size, length)), known when the config is loaded: a
vocabulary that comes out smaller leaves the last rows unused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from .base import DataSettings, InMemoryDataset
from .spec import DataError, DatasetSpec
from .splits import Splits
from .tokenize import SPECIALS, build_vocab, encode
from .tokens import make_token_splits

STEM = re.compile(r"(\w+)-min(\d+)-max(\d+)")


class TokenFile:
    """What the entries of text datasets share (mixed in before their base class; the synthetic corpus's too): their
    prepared file holds token ids, offsets and labels, and their splits are padded token ids."""

    def load_splits(self, path: str | Path, settings: DataSettings) -> Splits:
        raw = torch.load(path, weights_only=True)
        return make_token_splits(raw, settings.spec, settings.val_size, settings.split_seed, settings.train_subset,
                                 settings.test_subset)


@dataclass(frozen=True)
class TextSettings:
    """Defaults as in the schema's `data.text`."""

    min_freq: int = 1
    max_size: int = 100_000
    length: int = 128

    @classmethod
    def from_config(cls, cfg: dict | None) -> TextSettings:
        cfg = {**cls().__dict__, **(cfg or {})}
        settings = cls(int(cfg["min_freq"]), int(cfg["max_size"]), int(cfg["length"]))
        if settings.max_size < len(SPECIALS) + 1:
            raise DataError(f"data.text.max_size={settings.max_size}: the vocabulary needs room for "
                            f"{' and '.join(SPECIALS)} and at least one word (max_size ≥ {len(SPECIALS) + 1})")
        if settings.length < 1 or settings.min_freq < 1:
            raise DataError(f"data.text: length and min_freq must be at least 1, got {cfg}")
        return settings


def encode_splits(train: tuple[list[list[str]], list[int]], test: tuple[list[list[str]], list[int]],
                  settings: TextSettings) -> dict:
    """The prepared file of tokenized texts and their labels: the vocabulary from the training texts alone."""
    vocab = build_vocab(train[0], settings.min_freq, settings.max_size)
    out: dict = {"vocab": vocab}
    for split, (texts, labels) in (("train", train), ("test", test)):
        out[f"{split}_ids"], out[f"{split}_offsets"] = encode(texts, vocab)
        out[f"{split}_y"] = torch.tensor(labels, dtype=torch.long)
    return out


class TextDataset(TokenFile, InMemoryDataset):
    """A text dataset prepared with the vocabulary its `data.text` settings describe. Subclasses are frozen
    dataclasses with a `settings: TextSettings` field and a `base_spec` (classes, sizes, val_size)."""

    settings: TextSettings
    base_spec: DatasetSpec

    @property
    def spec(self) -> DatasetSpec:
        return replace(self.base_spec, shape=(self.settings.max_size, self.settings.length), input="tokens",
                       mean=(), std=())

    def configured(self, data_cfg: dict) -> TextDataset:
        return replace(self, settings=TextSettings.from_config(data_cfg.get("text")))

    @property
    def file_stem(self) -> str:
        return f"{self.base_spec.name}-min{self.settings.min_freq}-max{self.settings.max_size}"

    def from_stem(self, stem: str) -> TextDataset:
        match = STEM.fullmatch(stem)
        if match is None or match.group(1) != self.base_spec.name:
            raise DataError(f"{stem!r} is not a prepared-file name of {self.base_spec.name} (expected e.g. "
                            f"{self.file_stem!r})")
        return replace(self, settings=replace(self.settings, min_freq=int(match.group(2)),
                                              max_size=int(match.group(3))))
