"""Bootstrap intervals for a ratio of two mean barriers (e.g. star–held-out over control–held-out).

The two sides are resampled independently, each with replacement. A side whose pairs come from several models
(several stars, `per_k` > 1) is resampled on two levels: its models first, then pairs within each chosen model, so
the interval carries the spread between stars and not only between held-out models. A side from one model (or one
without model labels) is resampled over its pairs. Everything is deterministic given the seed.
"""

from __future__ import annotations

import numpy as np

LEVEL = 0.95


def ratio(numerator, denominator) -> float:
    """Ratio of the means; NaN when either side has no values or the denominator's mean is 0."""
    num, den = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    if not num.size or not den.size or np.mean(den) == 0:
        return float("nan")
    return float(np.mean(num) / np.mean(den))


def resampled_means(values, clusters, samples: int, rng: np.random.Generator) -> np.ndarray:
    """`samples` bootstrap means of `values` (one per resample, shape (samples,)).

    With `clusters` (one label per value, e.g. the pair's model1) naming more than one cluster, each resample draws
    as many clusters as there are, with replacement, then within each drawn cluster as many of its values as it has,
    with replacement, and averages every drawn value (pairs weigh equally). Otherwise it draws the values
    themselves."""
    values = np.asarray(values, dtype=float)
    labels = None if clusters is None else np.asarray(clusters)
    if labels is None or len(np.unique(labels)) < 2:
        return values[rng.integers(0, len(values), size=(samples, len(values)))].mean(axis=1)
    order = np.argsort(labels, kind="stable")
    values, labels = values[order], labels[order]
    _, starts, sizes = np.unique(labels, return_index=True, return_counts=True)
    chosen = rng.integers(0, len(sizes), size=(samples, len(sizes)))  # (B, m) clusters
    n = sizes[chosen]  # (B, m) their sizes
    within = np.floor(rng.random((samples, len(sizes), sizes.max())) * n[..., None]).astype(int)
    used = np.arange(sizes.max()) < n[..., None]  # (B, m, max size): the first n_c draws of cluster c count
    drawn = values[np.where(used, starts[chosen][..., None] + within, 0)]
    return (drawn * used).sum(axis=(1, 2)) / n.sum(axis=1)


def ratio_interval(numerator, denominator, numerator_clusters=None, denominator_clusters=None,
                   samples: int = 2000, seed: int = 0, level: float = LEVEL) -> tuple[float, float, float]:
    """(ratio of the means, low, high): the percentile interval at `level` (2.5 and 97.5 % by default) of the ratio
    of resampled means, over `samples` resamples drawn from `numpy.random.default_rng(seed)` (numerator first, then
    denominator, independently). Resamples whose denominator mean is 0 are left out. All NaN when either side has
    no values; the interval is NaN when no resample is left."""
    num, den = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    if not num.size or not den.size:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    top = resampled_means(num, numerator_clusters, samples, rng)
    bottom = resampled_means(den, denominator_clusters, samples, rng)
    keep = bottom != 0
    if not keep.any():
        return ratio(num, den), float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(top[keep] / bottom[keep], [tail, 100 - tail])
    return ratio(num, den), float(low), float(high)


def verdict(low: float, high: float) -> str:
    """"yes" when the interval of a ratio lies entirely below 1, "no" when entirely above, else "not resolved"."""
    if np.isnan(low) or np.isnan(high):
        return "not resolved"
    return "yes" if high < 1 else "no" if low > 1 else "not resolved"
