"""Length checks: outliers by a robust z-score, and examples longer than max_seq_length."""

from __future__ import annotations

import numpy as np

from core.dataset.findings import WARNING, Finding

OUTLIER_Z = 3.5  # robust z-score (median/MAD of log length) beyond which a length is odd
MIN_EXAMPLES_FOR_OUTLIERS = 20
MIN_LOG_SPREAD = 0.3


def length_outlier_findings(lengths: np.ndarray, unit: str, place) -> list[Finding]:
    """Examples far longer or shorter than the rest (log scale, median and MAD)."""
    valid = np.flatnonzero(lengths > 0)
    if len(valid) < MIN_EXAMPLES_FOR_OUTLIERS:
        return []
    logs = np.log(lengths[valid].astype(np.float64))
    median = float(np.median(logs))
    # A floor on the spread: with near-identical lengths (templated data) MAD is tiny and
    # a merely 2x longer example would be an "outlier"; this keeps the fence near 5x.
    mad = max(float(np.median(np.abs(logs - median))) * 1.4826, MIN_LOG_SPREAD)
    z = (logs - median) / mad
    typical = round(float(np.exp(median)))
    findings = []
    for position in np.flatnonzero(np.abs(z) > OUTLIER_Z).tolist():
        i = int(valid[position])
        longer = z[position] > 0
        findings.append(
            Finding(
                WARNING,
                "length_outlier",
                f"Example {i + 1} is {int(lengths[i]):,} {unit} long; a typical example is "
                f"{typical:,}. It is much {'longer' if longer else 'shorter'} than the rest.",
                fix="Check it is complete and belongs in this dataset"
                + (", or split it." if longer else "."),
                example=i,
                **place(i),
            )
        )
    return findings


def token_overflow_findings(
    token_counts: np.ndarray, max_seq_length: int, tokenizer_name: str, place
) -> list[Finding]:
    """Examples longer than max_seq_length tokens: how many, and by how much each is cut."""
    over = np.flatnonzero(token_counts > max_seq_length)
    if not len(over):
        return []
    findings = []
    for i in over.tolist():
        count = int(token_counts[i])
        cut = count - max_seq_length
        findings.append(
            Finding(
                WARNING,
                "too_long",
                f"Example {i + 1} is {count:,} tokens ({tokenizer_name}); max_seq_length "
                f"{max_seq_length:,} cuts its last {cut:,} tokens ({100 * cut / count:.0f}%), "
                "so the end of the reply is never learned.",
                fix="Shorten it, split it into two examples, or raise max_seq_length.",
                example=i,
                **place(i),
            )
        )
    lost = token_counts[over] - max_seq_length
    findings.append(
        Finding(
            WARNING,
            "too_long_summary",
            f"{len(over):,} of {len(token_counts):,} examples "
            f"({100 * len(over) / len(token_counts):.1f}%) are longer than max_seq_length "
            f"{max_seq_length:,} and would be truncated, by {int(lost.mean()):,} tokens on "
            f"average (at most {int(lost.max()):,}).",
            fix="Raise max_seq_length (memory grows with it) or shorten those examples.",
        )
    )
    return findings
