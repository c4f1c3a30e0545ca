"""The automated metrics of one model, and paired comparisons of two on the same examples.

Every rate carries a Wilson interval; every comparison is paired on the examples both
models answered, and says "better" or "worse" only when the difference is significant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core.evaluation.eval_set import EvalSet
from core.evaluation.outputs import ExampleOutput
from core.evaluation.statistics import (
    ALPHA,
    CANNOT_TELL,
    Rate,
    mcnemar,
    paired_bootstrap,
    paired_outcomes,
    rate,
    verdict,
)


class Measured(Protocol):
    """One model's evaluation as compare() reads it (core.evaluation.results.EvalResult,
    which builds its own metrics from here, so this module does not import it)."""

    eval_set: EvalSet
    outputs: list[ExampleOutput]

    @property
    def label(self) -> str: ...


# The metrics a comparison table shows, in order: key, title, higher is better?
# (None: neither direction is better, e.g. answer length).
METRIC_TITLES = {
    "format_compliance": ("Format compliance", True),
    "accuracy": ("Task accuracy", True),
    "perplexity": ("Perplexity on references", False),
    "mean_answer_tokens": ("Answer length (tokens)", None),
    "refusal_rate": ("Refusal rate", False),
    "truncated_rate": ("Cut off at the length limit", False),
}


@dataclass(frozen=True)
class Metrics:
    n: int
    format_compliance: Rate
    accuracy: Rate
    refusal: Rate
    truncated: Rate
    perplexity: float | None
    perplexity_tokens: int
    mean_answer_tokens: float | None
    mean_answer_chars: float | None

    def as_dict(self) -> dict:
        """Flat, JSON-ready: each rate as a value (None if unmeasured) and its interval."""
        out: dict = {"n": self.n}
        for key, value in (
            ("format_compliance", self.format_compliance),
            ("accuracy", self.accuracy),
            ("refusal_rate", self.refusal),
            ("truncated_rate", self.truncated),
        ):
            out[key] = value.value
            out[f"{key}_ci"] = [value.low, value.high] if value.n else None
            out[f"{key}_n"] = value.n
        out["perplexity"] = self.perplexity
        out["perplexity_tokens"] = self.perplexity_tokens
        out["mean_answer_tokens"] = self.mean_answer_tokens
        out["mean_answer_chars"] = self.mean_answer_chars
        return out


def perplexity_of(outputs: Sequence[ExampleOutput]) -> tuple[float | None, int]:
    """Token-weighted perplexity over all reference answers, and how many tokens it covers."""
    losses = [o.reference_loss for o in outputs if o.reference_loss is not None]
    tokens = sum(loss.n_tokens for loss in losses)
    if not tokens:
        return None, 0
    return math.exp(sum(loss.nll_sum for loss in losses) / tokens), tokens


def summarize(outputs: Sequence[ExampleOutput]) -> Metrics:
    perplexity, tokens = perplexity_of(outputs)
    n = len(outputs)
    return Metrics(
        n=n,
        format_compliance=rate([o.score.format_ok for o in outputs]),
        accuracy=rate([o.score.correct for o in outputs]),
        refusal=rate([o.score.refusal for o in outputs]),
        truncated=rate([not o.finished for o in outputs]),
        perplexity=perplexity,
        perplexity_tokens=tokens,
        mean_answer_tokens=sum(o.n_tokens for o in outputs) / n if n else None,
        mean_answer_chars=sum(len(o.answer) for o in outputs) / n if n else None,
    )


@dataclass(frozen=True)
class MetricComparison:
    """One metric of model B against model A, paired on the same examples."""

    metric: str
    title: str
    a: float | None
    b: float | None
    delta: float | None  # b - a
    ci_low: float | None  # confidence interval of the delta
    ci_high: float | None
    p_value: float | None
    test: str
    n_paired: int
    higher_is_better: bool | None
    verdict: (
        str  # "better", "worse", "not enough examples to tell", "longer", "shorter", "not measured"
    )

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < ALPHA and bool(self.delta)

    def as_dict(self) -> dict:
        return {
            "metric": self.metric,
            "title": self.title,
            "a": self.a,
            "b": self.b,
            "delta": self.delta,
            "delta_ci": None if self.ci_low is None else [self.ci_low, self.ci_high],
            "p_value": self.p_value,
            "test": self.test,
            "n_paired": self.n_paired,
            "verdict": self.verdict,
        }


class NotComparableError(ValueError):
    """Two results that were not measured on the same eval-set version."""


def _paired_outputs(a: Measured, b: Measured) -> list[tuple[ExampleOutput, ExampleOutput]]:
    if a.eval_set.content_hash != b.eval_set.content_hash:
        raise NotComparableError(
            f"'{a.label}' and '{b.label}' were evaluated on different eval sets "
            f"({a.eval_set.name} {a.eval_set.content_hash} vs {b.eval_set.name} "
            f"{b.eval_set.content_hash}); evaluate both on the same version to compare them."
        )
    by_index = {o.index: o for o in b.outputs}
    return [(o, by_index[o.index]) for o in a.outputs if o.index in by_index]


def _compare_pass_fail(key: str, pairs: list, outcome, seed: int) -> MetricComparison:
    title, higher_is_better = METRIC_TITLES[key]
    a_values = [outcome(x) for x, _ in pairs]
    b_values = [outcome(y) for _, y in pairs]
    only_a, only_b, n_paired = paired_outcomes(a_values, b_values)
    if n_paired == 0:
        return MetricComparison(
            key, title, None, None, None, None, None, None, "", 0, higher_is_better, "not measured"
        )
    both = [(x, y) for x, y in zip(a_values, b_values) if x is not None and y is not None]
    rate_a = sum(x for x, _ in both) / n_paired
    rate_b = sum(y for _, y in both) / n_paired
    test = mcnemar(only_a, only_b)
    interval = paired_bootstrap([float(x) for x, _ in both], [float(y) for _, y in both], seed=seed)
    delta = rate_b - rate_a
    return MetricComparison(
        key,
        title,
        rate_a,
        rate_b,
        delta,
        interval.low,
        interval.high,
        test.p_value,
        f"McNemar ({test.method}; {only_a} vs {only_b} discordant)",
        n_paired,
        higher_is_better,
        verdict(delta, test.p_value, higher_is_better),
    )


def _compare_perplexity(pairs: list, seed: int) -> MetricComparison:
    title, _ = METRIC_TITLES["perplexity"]
    rows = [
        (x.reference_loss, y.reference_loss)
        for x, y in pairs
        if x.reference_loss is not None and y.reference_loss is not None
    ]
    if not rows:
        return MetricComparison(
            "perplexity", title, None, None, None, None, None, None, "", 0, False, "not measured"
        )
    a_rows = [[x.nll_sum, x.n_tokens] for x, _ in rows]
    b_rows = [[y.nll_sum, y.n_tokens] for _, y in rows]

    def corpus_perplexity(values, indices):
        chosen = values[indices]
        return math.exp(chosen[:, 0].sum() / max(chosen[:, 1].sum(), 1))

    result = paired_bootstrap(a_rows, b_rows, statistic=corpus_perplexity, seed=seed)
    everything = range(len(rows))
    value_a = corpus_perplexity(np.asarray(a_rows, dtype=float), list(everything))
    value_b = corpus_perplexity(np.asarray(b_rows, dtype=float), list(everything))
    return MetricComparison(
        "perplexity",
        title,
        value_a,
        value_b,
        result.difference,
        result.low,
        result.high,
        result.p_value,
        f"paired bootstrap ({result.resamples} resamples)",
        len(rows),
        False,
        verdict(result.difference, result.p_value, False),
    )


def _compare_length(pairs: list, seed: int) -> MetricComparison:
    title, _ = METRIC_TITLES["mean_answer_tokens"]
    result = paired_bootstrap(
        [x.n_tokens for x, _ in pairs], [y.n_tokens for _, y in pairs], seed=seed
    )
    a = sum(x.n_tokens for x, _ in pairs) / len(pairs)
    b = sum(y.n_tokens for _, y in pairs) / len(pairs)
    words = CANNOT_TELL
    if result.p_value < ALPHA and result.difference:
        words = "longer" if result.difference > 0 else "shorter"
    return MetricComparison(
        "mean_answer_tokens",
        title,
        a,
        b,
        result.difference,
        result.low,
        result.high,
        result.p_value,
        f"paired bootstrap ({result.resamples} resamples)",
        len(pairs),
        None,
        words,
    )


def compare(a: Measured, b: Measured, seed: int = 0) -> list[MetricComparison]:
    """Every metric of B against A (A is usually the baseline), paired on shared examples."""
    pairs = _paired_outputs(a, b)
    if not pairs:
        raise NotComparableError(f"'{a.label}' and '{b.label}' share no answered examples.")
    return [
        _compare_pass_fail("format_compliance", pairs, lambda o: o.score.format_ok, seed),
        _compare_pass_fail("accuracy", pairs, lambda o: o.score.correct, seed),
        _compare_perplexity(pairs, seed),
        _compare_length(pairs, seed),
        _compare_pass_fail("refusal_rate", pairs, lambda o: o.score.refusal, seed),
        _compare_pass_fail("truncated_rate", pairs, lambda o: not o.finished, seed),
    ]
