"""A synthetic text dataset for tests and smoke runs: learnable, seeded, no files.

The words (ids 2 .. vocab−1; 0 is `<pad>`, 1 `<unk>`, which it never uses) are split into `classes` topic groups
and one group of common words. A text of class c has between length/2 and `length` tokens, each drawn from c's
group with probability TOPIC, else from the common words: the class is the topic group the text's words come
from. A bag of embeddings (their mean) and a convolution over them (max over time) both learn it in a few
epochs; the models are built for (vocab, length), its own settings
(`data.synthetic_text`), which its prepared file's name spells
(`resources/synthetic_text-200vocab-24len-4classes-2000train-500test-seed0.pt`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import ClassVar

import torch

from .generated import GeneratedDataset
from .spec import DataError, DatasetSpec
from .text import TokenFile
from .tokenize import SPECIALS

STEM = re.compile(r"synthetic_text-(\d+)vocab-(\d+)len-(\d+)classes-(\d+)train-(\d+)test-seed(\d+)")
TOPIC = 0.3  # the share of a text's tokens drawn from its class's group


@dataclass(frozen=True)
class SyntheticTextSettings:
    """Defaults as in the schema's `data.synthetic_text`."""

    vocab: int = 200
    length: int = 24
    classes: int = 4
    train_size: int = 2000
    test_size: int = 500
    seed: int = 0

    @classmethod
    def from_config(cls, cfg: dict | None) -> SyntheticTextSettings:
        s = cls(**{k: int(v) for k, v in {**asdict(cls()), **(cfg or {})}.items()})
        if s.vocab - len(SPECIALS) < s.classes + 1:
            raise DataError(f"data.synthetic_text.vocab={s.vocab}: {s.classes} topic groups and the common words "
                            f"need at least {s.classes + 1 + len(SPECIALS)} ids")
        if s.length < 2:
            raise DataError(f"data.synthetic_text.length={s.length}: texts need at least 2 tokens")
        return s

    @property
    def stem(self) -> str:
        return (f"synthetic_text-{self.vocab}vocab-{self.length}len-{self.classes}classes-{self.train_size}train-"
                f"{self.test_size}test-seed{self.seed}")


def _texts(s: SyntheticTextSettings, group: torch.Tensor, n: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    words = torch.arange(len(SPECIALS), s.vocab)
    common = words[group == s.classes]
    labels = (torch.arange(n) % s.classes)[torch.randperm(n, generator=g)]
    lengths = torch.randint(s.length // 2, s.length + 1, (n,), generator=g)
    ids = []
    for label, length in zip(labels.tolist(), lengths.tolist()):
        topic = words[group == label]
        from_topic = torch.rand(length, generator=g) < TOPIC
        tokens = torch.where(from_topic, topic[torch.randint(len(topic), (length,), generator=g)],
                             common[torch.randint(len(common), (length,), generator=g)])
        ids.append(tokens)
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
    return {"ids": torch.cat(ids).to(torch.int32), "offsets": offsets, "y": labels}


def generate(s: SyntheticTextSettings) -> dict[str, torch.Tensor]:
    """The dataset of `s`, in the prepared format of the text datasets: a pure function of the settings."""
    g = torch.Generator().manual_seed(s.seed)
    # each word's group, shared by both splits; group `classes` holds the common words
    group = torch.randperm(s.vocab - len(SPECIALS), generator=g) % (s.classes + 1)
    out = {}
    for split, n in (("train", s.train_size), ("test", s.test_size)):
        out |= {f"{split}_{k}": v for k, v in _texts(s, group, n, g).items()}
    return out


@dataclass(frozen=True)
class SyntheticTextDataset(TokenFile, GeneratedDataset):
    section: ClassVar[str] = "synthetic_text"
    stem_pattern: ClassVar[re.Pattern] = STEM
    settings: SyntheticTextSettings = SyntheticTextSettings()
    title: str = "the synthetic text dataset"

    @property
    def spec(self) -> DatasetSpec:
        s = self.settings
        return DatasetSpec("synthetic_text", (s.vocab, s.length), s.classes, (), (), s.train_size, s.test_size,
                           val_size=max(1, s.train_size // 10), input="tokens")

    def settings_of(self, numbers: list[int]) -> SyntheticTextSettings:
        return SyntheticTextSettings(*numbers)

    def generate(self, settings: SyntheticTextSettings) -> dict[str, torch.Tensor]:
        return generate(settings)


SYNTHETIC_TEXT = SyntheticTextDataset()
