"""Weight-matching alignment: permute one model's hidden units onto another's without changing its function."""

from .rebasin import align, align_with_permutations, permute_hidden_units

__all__ = ["align", "align_with_permutations", "permute_hidden_units"]
