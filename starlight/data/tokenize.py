"""Text to token ids: the tokenizer, the vocabulary and the encoding every text dataset shares.

The tokenizer follows torchtext's `basic_english` rule (what the paper's reference code used for AG News):
lowercase; drop `"` and `<br />`; put spaces around `'`, `.`, `,`, `(`, `)`, `!` and `?` so that each becomes a
token of its own; turn `;` and `:` into spaces; split on whitespace. The vocabulary is built from the training
split alone: `<pad>` (id 0) and `<unk>` (id 1) first, then every token seen at least `min_freq` times, by
descending count (ties alphabetically), until it holds `max_size` entries; every other token reads as `<unk>`.
A split is encoded as one flat int32 tensor of ids and int64 offsets (text i is ids[offsets[i]:offsets[i+1]]).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import torch

PAD, UNK = "<pad>", "<unk>"
SPECIALS = (PAD, UNK)  # ids 0 and 1
PAD_ID, UNK_ID = 0, 1

_RULES = [(re.compile(pattern), replacement) for pattern, replacement in (
    (r"\'", " '  "), (r"\"", ""), (r"\.", " . "), (r"<br \/>", " "), (r",", " , "), (r"\(", " ( "),
    (r"\)", " ) "), (r"\!", " ! "), (r"\?", " ? "), (r"\;", " "), (r"\:", " "), (r"\s+", " "))]


def basic_english(text: str) -> list[str]:
    """Lowercase and split on the usual English punctuation (torchtext's basic_english rule)."""
    text = text.lower()
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text.split()


def build_vocab(texts: Iterable[list[str]], min_freq: int, max_size: int) -> list[str]:
    """The vocabulary of tokenized training texts: the specials, then the tokens seen at least `min_freq` times,
    most frequent first (ties alphabetically), `max_size` entries at most."""
    if max_size < len(SPECIALS) + 1:
        raise ValueError(f"max_size={max_size}: the vocabulary needs room for {', '.join(SPECIALS)} and a word")
    counts = Counter(token for tokens in texts for token in tokens)
    kept = sorted((t for t, c in counts.items() if c >= min_freq and t not in SPECIALS),
                  key=lambda t: (-counts[t], t))
    return list(SPECIALS) + kept[:max_size - len(SPECIALS)]


def encode(texts: list[list[str]], vocab: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids int32, offsets int64 [N+1]) of tokenized texts; tokens outside `vocab` become `<unk>`."""
    index = {token: i for i, token in enumerate(vocab)}
    ids = [index.get(token, UNK_ID) for tokens in texts for token in tokens]
    lengths = torch.tensor([0] + [len(tokens) for tokens in texts], dtype=torch.long)
    return torch.tensor(ids, dtype=torch.int32), lengths.cumsum(0)


def padded(ids: torch.Tensor, offsets: torch.Tensor, length: int) -> torch.Tensor:
    """Token ids [N, length] int64: each text's first `length` ids, then `<pad>` (0)."""
    n = offsets.numel() - 1
    starts, lengths = offsets[:-1], (offsets[1:] - offsets[:-1]).clamp(max=length)
    position = torch.arange(length)
    inside = position[None, :] < lengths[:, None]
    gather = (starts[:, None] + position[None, :]).clamp(max=max(ids.numel() - 1, 0))
    out = torch.zeros(n, length, dtype=torch.long)
    if ids.numel():
        out[inside] = ids.long()[gather][inside]
    return out
