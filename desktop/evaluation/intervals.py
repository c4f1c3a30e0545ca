"""Confidence intervals for one model's perplexity and answer length (bootstrap over examples).

The core gives every rate a Wilson interval and every comparison a paired interval;
a single model's perplexity and mean length have none there, so the page computes
them here, resampling examples as the core's paired bootstrap does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from core.evaluation.results import ExampleOutput

RESAMPLES = 1000


def _bootstrap(rows, statistic, resamples: int, confidence: float, seed: int):
    import numpy as np

    values = np.asarray(rows, dtype=float)
    generator = np.random.default_rng(seed)
    draws = [
        statistic(values[generator.integers(0, len(values), len(values))]) for _ in range(resamples)
    ]
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
    return _bootstrap(
        [o.n_tokens for o in outputs], lambda v: v.mean(), resamples, confidence, seed
    )


def perplexity_interval(
    outputs: Sequence[ExampleOutput],
    resamples: int = RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Interval of the token-weighted perplexity on the references (None without any)."""
    rows = [
        [o.reference_loss.nll_sum, o.reference_loss.n_tokens]
        for o in outputs
        if o.reference_loss is not None and o.reference_loss.n_tokens
    ]
    if not rows:
        return None
    return _bootstrap(
        rows,
        lambda v: math.exp(v[:, 0].sum() / max(v[:, 1].sum(), 1)),
        resamples,
        confidence,
        seed,
    )
