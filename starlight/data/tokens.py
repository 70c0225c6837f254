"""In-memory text splits: padded token ids on the training device, with the interface of an ImageSet.

A `TokenSet` holds token ids [N, length] (int64, 0 the padding) and int64 labels. Every batch has the dataset's
`length` (longer texts were cut, shorter ones padded), so a model's output for a text never depends on the
batch it comes in. There is nothing to normalise and nothing to augment: `normalised` returns the ids (BN
re-estimation and alignment examples read them as they read images), and the training batches of an epoch are
a seeded shuffle, a pure function of (seed, epoch) as for images.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import torch

from .spec import DatasetSpec
from .splits import Batch, Splits, batch_bounds, epoch_generator, seeded_subset, split_indices
from .tokenize import padded


@dataclass
class TokenSet:
    """One split of a text dataset: token ids [N, length] and labels."""

    tokens: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return self.labels.shape[0]

    @property
    def device(self) -> torch.device:
        return self.tokens.device

    def to(self, device: torch.device | str) -> TokenSet:
        return replace(self, tokens=self.tokens.to(device), labels=self.labels.to(device))

    def normalised(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """The token ids at `idx` (all when None): what a model reads, as an ImageSet's normalised images."""
        return self.tokens if idx is None else self.tokens[idx.to(self.device)]

    def head(self, n: int) -> torch.Tensor:
        return self.tokens[:n]

    def subset(self, size: int | None, seed: int) -> TokenSet:
        if size is None or size >= len(self):
            return self
        idx = seeded_subset(len(self), size, seed).to(self.device)
        return replace(self, tokens=self.tokens[idx], labels=self.labels[idx])

    def batches(self, batch_size: int) -> Iterator[Batch]:
        for start in range(0, len(self), batch_size):
            yield self.tokens[start:start + batch_size], self.labels[start:start + batch_size]

    def steps_per_epoch(self, batch_size: int) -> int:
        return len(batch_bounds(len(self), batch_size))

    def epoch(self, batch_size: int, seed: int, epoch: int) -> Iterator[Batch]:
        order = torch.randperm(len(self), generator=epoch_generator(seed, epoch)).to(self.device)
        for start, stop in batch_bounds(len(self), batch_size):
            idx = order[start:stop]
            yield self.tokens.index_select(0, idx), self.labels.index_select(0, idx)


def make_token_splits(raw: dict[str, torch.Tensor], spec: DatasetSpec, val_size: int, split_seed: int,
                      train_subset: int | None = None, test_subset: int | None = None) -> Splits:
    """The seeded train/val split of a prepared text file ({train,test}_{ids,offsets,y}), padded to the spec's
    length (its shape is (vocabulary, length))."""
    length = spec.shape[-1]
    train = padded(raw["train_ids"], raw["train_offsets"], length)
    test = padded(raw["test_ids"], raw["test_offsets"], length)
    train_idx, val_idx, test_idx = split_indices(len(train), len(test), val_size, split_seed, train_subset,
                                                 test_subset)
    return Splits(TokenSet(train[train_idx], raw["train_y"][train_idx].clone()),
                  TokenSet(train[val_idx], raw["train_y"][val_idx].clone()),
                  TokenSet(test[test_idx], raw["test_y"][test_idx].clone()), spec)
