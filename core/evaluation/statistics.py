"""The statistics behind every claim the Evaluate page makes, in the standard library and numpy.

Rates get Wilson score intervals (good at small n and near 0 or 1, unlike the normal
approximation). Two models are always compared on the same examples: McNemar's test
for pass/fail (exact binomial when few examples disagree) and a paired bootstrap for
scores. Agreement between raters is Cohen's kappa (two raters) or Fleiss' kappa (more).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

ALPHA = 0.05
# Below this many discordant pairs McNemar uses the exact binomial test; the
# chi-square approximation is only trusted above it (the usual rule of thumb).
EXACT_MCNEMAR_BELOW = 25

BETTER, WORSE, CANNOT_TELL = "better", "worse", "not enough examples to tell"


def z_for_confidence(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


@dataclass(frozen=True)
class Rate:
    """A proportion with its Wilson confidence interval."""

    successes: int
    n: int
    low: float
    high: float

    @property
    def value(self) -> float | None:
        return self.successes / self.n if self.n else None

    def as_dict(self) -> dict:
        return {
            "value": self.value,
            "successes": self.successes,
            "n": self.n,
            "ci_low": self.low,
            "ci_high": self.high,
        }


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for successes/n (Newcombe 1998, method 3)."""
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return 0.0, 1.0
    z = z_for_confidence(confidence)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # At 0 or n the bound is exactly 0 or 1; rounding would otherwise leave 1e-17.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def rate(outcomes: Sequence[bool | None], confidence: float = 0.95) -> Rate:
    """The share of True among the outcomes that are not None (None: not measured)."""
    measured = [bool(o) for o in outcomes if o is not None]
    successes = sum(measured)
    low, high = wilson_interval(successes, len(measured), confidence)
    return Rate(successes, len(measured), low, high)


@dataclass(frozen=True)
class McNemarResult:
    only_a: int  # examples where A passed and B failed
    only_b: int  # examples where B passed and A failed
    p_value: float
    method: str  # "exact binomial" or "chi-square with continuity correction"
    statistic: float | None = None


def binomial_two_sided_p(k: int, n: int) -> float:
    """Two-sided exact p-value of k successes in n fair coin flips (doubling the smaller tail)."""
    if n == 0:
        return 1.0
    smaller = min(k, n - k)
    tail = sum(math.comb(n, i) for i in range(smaller + 1)) / 2**n
    return min(1.0, 2 * tail)


def chi_square_1df_sf(statistic: float) -> float:
    """P(X >= statistic) for a chi-square variable with one degree of freedom."""
    return math.erfc(math.sqrt(max(statistic, 0.0) / 2))


def mcnemar(only_a: int, only_b: int, exact_below: int = EXACT_MCNEMAR_BELOW) -> McNemarResult:
    """McNemar's test on the discordant counts of a paired pass/fail comparison."""
    if only_a < 0 or only_b < 0:
        raise ValueError("discordant counts cannot be negative")
    n = only_a + only_b
    if n < exact_below:
        return McNemarResult(only_a, only_b, binomial_two_sided_p(only_a, n), "exact binomial")
    statistic = (abs(only_a - only_b) - 1) ** 2 / n
    return McNemarResult(
        only_a,
        only_b,
        chi_square_1df_sf(statistic),
        "chi-square with continuity correction",
        statistic,
    )


def paired_outcomes(a: Sequence[bool | None], b: Sequence[bool | None]) -> tuple[int, int, int]:
    """(only_a, only_b, n_paired) over examples measured in both."""
    if len(a) != len(b):
        raise ValueError("paired outcomes need the same examples on both sides")
    only_a = only_b = paired = 0
    for x, y in zip(a, b):
        if x is None or y is None:
            continue
        paired += 1
        if x and not y:
            only_a += 1
        elif y and not x:
            only_b += 1
    return only_a, only_b, paired


@dataclass(frozen=True)
class BootstrapResult:
    difference: float  # statistic(b) - statistic(a) on all paired examples
    low: float
    high: float
    p_value: float
    n: int
    resamples: int


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    statistic: Callable | None = None,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """Bootstrap the difference statistic(b) - statistic(a), resampling examples in pairs.

    `statistic(values, indices)` defaults to the mean of values[indices]; values are
    numpy arrays (a statistic may take 2-D arrays, e.g. summed log-loss and token counts).
    The p-value is the two-sided share of resampled differences on the far side of zero.
    """
    a_values, b_values = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a_values.shape != b_values.shape:
        raise ValueError("paired bootstrap needs the same examples on both sides")
    n = len(a_values)
    if n == 0:
        raise ValueError("paired bootstrap needs at least one example")

    def mean_of(values, indices):
        return values[indices].mean(axis=0)

    stat = statistic or mean_of
    everything = np.arange(n)
    observed = float(stat(b_values, everything) - stat(a_values, everything))
    generator = np.random.default_rng(seed)
    differences = np.empty(resamples)
    for i in range(resamples):
        indices = generator.integers(0, n, n)
        differences[i] = stat(b_values, indices) - stat(a_values, indices)
    tail = (1 - confidence) / 2
    low, high = np.quantile(differences, [tail, 1 - tail])
    # Share of resamples at or beyond zero on the side opposite the observed difference.
    if observed > 0:
        one_side = np.mean(differences <= 0)
    elif observed < 0:
        one_side = np.mean(differences >= 0)
    else:
        one_side = 0.5
    p_value = float(min(1.0, 2 * one_side))
    return BootstrapResult(observed, float(low), float(high), p_value, n, resamples)


def verdict(difference: float, p_value: float, higher_is_better: bool, alpha: float = ALPHA) -> str:
    """'better' or 'worse' for B against A only when significant; otherwise we cannot tell."""
    if p_value >= alpha or difference == 0:
        return CANNOT_TELL
    improved = difference > 0 if higher_is_better else difference < 0
    return BETTER if improved else WORSE


def cohen_kappa(first: Sequence[Hashable], second: Sequence[Hashable]) -> float | None:
    """Cohen's kappa between two raters' labels on the same items (None if undefined)."""
    if len(first) != len(second):
        raise ValueError("Cohen's kappa needs the same items from both raters")
    n = len(first)
    if n == 0:
        return None
    categories = set(first) | set(second)
    observed = sum(x == y for x, y in zip(first, second)) / n
    expected = sum((list(first).count(c) / n) * (list(second).count(c) / n) for c in categories)
    if expected == 1:
        return 1.0 if observed == 1 else None  # every label the same: agreement is trivial
    return (observed - expected) / (1 - expected)


def fleiss_kappa(items: Sequence[Sequence[Hashable]]) -> float | None:
    """Fleiss' kappa; each item is the list of labels its raters gave (two or more).

    Items may have different numbers of raters; items with fewer than two are skipped.
    """
    rated = [list(labels) for labels in items if len(labels) >= 2]
    if not rated:
        return None
    categories = sorted({label for labels in rated for label in labels}, key=str)
    total_labels = sum(len(labels) for labels in rated)
    shares = {c: sum(labels.count(c) for labels in rated) / total_labels for c in categories}
    agreement_per_item = []
    for labels in rated:
        k = len(labels)
        same = sum(labels.count(c) ** 2 for c in categories) - k
        agreement_per_item.append(same / (k * (k - 1)))
    observed = sum(agreement_per_item) / len(rated)
    expected = sum(share**2 for share in shares.values())
    if expected == 1:
        return 1.0 if observed == 1 else None
    return (observed - expected) / (1 - expected)


def describe_kappa(kappa: float | None) -> str:
    """Landis and Koch's words for a kappa value, so the number means something to a reader."""
    if kappa is None:
        return "not measurable"
    if kappa < 0:
        return "poor"
    for limit, words in (
        (0.2, "slight"),
        (0.4, "fair"),
        (0.6, "moderate"),
        (0.8, "substantial"),
    ):
        if kappa <= limit:
            return words
    return "almost perfect"
