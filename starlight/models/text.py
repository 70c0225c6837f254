"""Text classifiers on token ids: a bag of embeddings (`text_bag`) and a convolutional net over embeddings
(`text_cnn`), the paper's reference code's `SimpleTextClassifier` and `TextCNN`.

The batch format of every text model: a padded LongTensor [batch, length] of token ids, 0 the padding id
(`<pad>`), as the text datasets prepare it (starlight/data/tokens.py). Every batch of a dataset has the same
length, so a model computes the same function of a text whatever batch it comes in. The input shape the builders
get is (vocabulary size, length): the one-hot [vocab, length] input that the embedding reads as ids.

- `text_bag`: an EmbeddingBag (mode mean, padding excluded from the mean: the mean over the text's own tokens,
  as the reference's (tokens, offsets) bags) of `embed_dim` (64) dimensions, initialised U(−0.5, 0.5), then one
  Linear to the classes (weight U(−0.5, 0.5), bias 0).
- `text_cnn`: an Embedding of `embed_dim` (100) dimensions, 1-D convolutions of widths 3, 4 and 5 with
  `filters` (100) output channels each over it, ReLU, max over time, concatenation, dropout, a Linear head. The
  reference convolves a [1, length, embed_dim] image with (width × embed_dim) kernels: the same function.

The padding row of each embedding is zero and gets no gradient. `stem` is the embedding (linear in its weights,
as the image models' first layer), `rest` the remainder: forward(x) == rest(stem(x)).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import options

INPUT = "tokens"  # what these models read (models/__init__.py: MODEL_INPUTS)
PAD = 0  # the padding id of every text dataset
BAG_KEYS = {"embed_dim": 64}
CNN_KEYS = {"embed_dim": 100, "filters": 100, "dropout": 0.0}
CNN_WIDTHS = (3, 4, 5)
INIT_RANGE = 0.5


class TextBag(nn.Module):
    def __init__(self, vocab_size: int, n_classes: int, embed_dim: int = 64):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, embed_dim, mode="mean", padding_idx=PAD)
        self.fc = nn.Linear(embed_dim, n_classes)
        with torch.no_grad():
            nn.init.uniform_(self.embedding.weight, -INIT_RANGE, INIT_RANGE)
            self.embedding.weight[PAD].zero_()
            nn.init.uniform_(self.fc.weight, -INIT_RANGE, INIT_RANGE)
            nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rest(self.stem(x))

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(x)

    def rest(self, z: torch.Tensor) -> torch.Tensor:
        return self.fc(z)


class TextCNN(nn.Module):
    def __init__(self, vocab_size: int, n_classes: int, embed_dim: int = 100, filters: int = 100,
                 dropout: float = 0.0, widths: tuple[int, ...] = CNN_WIDTHS):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, filters, width) for width in widths)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(len(widths) * filters, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rest(self.stem(x))

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(x)  # [batch, length, embed_dim]

    def rest(self, z: torch.Tensor) -> torch.Tensor:
        z = z.transpose(1, 2)  # [batch, embed_dim, length]: the embedding's dimensions are the convs' channels
        pooled = [torch.amax(F.relu(conv(z)), dim=2) for conv in self.convs]
        return self.fc(self.dropout(torch.cat(pooled, dim=1)))


def _vocab_and_length(in_shape: tuple[int, ...], name: str) -> tuple[int, int]:
    if len(in_shape) != 2:
        raise options.ModelConfigError(f"model.name={name!r}: {name} reads token ids (input shape (vocabulary, "
                                       f"length)); got input shape {tuple(in_shape)}")
    return int(in_shape[0]), int(in_shape[1])


def build_bag(cfg: dict, in_shape: tuple[int, ...], n_classes: int) -> TextBag:
    vocab, _ = _vocab_and_length(in_shape, "text_bag")
    return TextBag(vocab, n_classes, options.integer(cfg, BAG_KEYS, "embed_dim", "text_bag"))


def build_cnn(cfg: dict, in_shape: tuple[int, ...], n_classes: int) -> TextCNN:
    vocab, length = _vocab_and_length(in_shape, "text_cnn")
    if length < max(CNN_WIDTHS):
        raise options.ModelConfigError(f"model.name='text_cnn': text_cnn needs texts of at least {max(CNN_WIDTHS)} "
                                       f"tokens (its widest convolution); the dataset pads them to {length}")
    return TextCNN(vocab, n_classes, options.integer(cfg, CNN_KEYS, "embed_dim", "text_cnn"),
                   options.integer(cfg, CNN_KEYS, "filters", "text_cnn"), options.dropout(cfg, CNN_KEYS, "text_cnn"))
