"""Confidence intervals for one model's perplexity and answer length (bootstrap over examples).

The core gives every rate a Wilson interval and every comparison a paired interval;
a single model's perplexity and mean length have none there, so the page computes
them here, resampling examples as the core's paired bootstrap does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.evaluation.results import ExampleOutput

RESAMPLES = 1000


def _resampled_indices(n: int, resamples: int, seed: int):
    """All bootstrap resamples at once (resamples x n), so no Python loop runs per resample."""
    return np.random.default_rng(seed).integers(0, n, (resamples, n))


def _interval(draws, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return float(low), float(high)


def mean_length_interval(
    outputs: Sequence[ExampleOutput],
    resamples: int = RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Interval of the mean answer length in tokens (None without answers)."""
    if not outputs:
        return None
    lengths = np.asarray([o.n_tokens for o in outputs], dtype=float)
    draws = lengths[_resampled_indices(len(lengths), resamples, seed)].mean(axis=1)
    return _interval(draws, confidence)


def perplexity_interval(
    outputs: Sequence[ExampleOutput],
    resamples: int = RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Interval of the token-weighted perplexity on the references (None without any)."""
    losses = [o.reference_loss for o in outputs if o.reference_loss and o.reference_loss.n_tokens]
    if not losses:
        return None
    nll = np.asarray([loss.nll_sum for loss in losses], dtype=float)
    tokens = np.asarray([loss.n_tokens for loss in losses], dtype=float)
    indices = _resampled_indices(len(losses), resamples, seed)
    draws = np.exp(nll[indices].sum(axis=1) / tokens[indices].sum(axis=1))
    return _interval(draws, confidence)
