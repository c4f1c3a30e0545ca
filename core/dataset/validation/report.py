"""What validation is asked to check (ValidationOptions) and what it found (ValidationReport)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.dataset.findings import ERROR, INFO, SEVERITY_RANK, WARNING, Finding
from core.dataset.split import SplitConfig
from core.figures import count_text


@dataclass
class ValidationOptions:
    max_seq_length: int | None = field(
        default=None,
        metadata={
            "help": "Training cuts examples longer than this many tokens. With a tokenizer, "
            "validation says which examples would be cut and by how much."
        },
    )
    tokenizer: Any = field(
        default=None,
        metadata={
            "help": "The base model's tokenizer (object or model folder) for token lengths. "
            "Without one, lengths are estimated at ~4 characters per token."
        },
    )
    near_duplicates: bool = field(
        default=True, metadata={"help": "Look for near duplicates (MinHash; linear time)."}
    )
    near_duplicate_threshold: float = field(
        default=0.8,
        metadata={
            "help": "Word overlap (Jaccard, 0-1) above which two examples count as near "
            "duplicates. Duplicates over-weight one behaviour and leak into validation."
        },
    )
    split: SplitConfig | None = field(
        default=None,
        metadata={
            "help": "The train/validation split to check for shared examples (leakage makes "
            "validation loss look better than the model is)."
        },
    )

    def __post_init__(self) -> None:
        if self.max_seq_length is not None and self.max_seq_length < 16:
            raise ValueError(
                f"max_seq_length must be at least 16 tokens, not {self.max_seq_length}"
            )
        if not 0.3 <= self.near_duplicate_threshold <= 1.0:
            raise ValueError(
                "near_duplicate_threshold must be between 0.3 and 1.0, "
                f"not {self.near_duplicate_threshold}"
            )


_RANK_OF = {ERROR: 2, WARNING: 1, INFO: 0}


@dataclass
class ValidationReport:
    """Every finding, plus per-example summaries cheap enough for a 100k-row table."""

    findings: list[Finding]
    n_examples: int
    # -1 none, 0 info, 1 warning, 2 error: per example, for badges and severity filters.
    example_severity: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    stats: dict = field(default_factory=dict)

    @classmethod
    def build(cls, findings: list[Finding], n_examples: int, stats: dict) -> ValidationReport:
        severity = np.full(n_examples, -1, dtype=np.int8)
        for finding in findings:
            if finding.example is not None and 0 <= finding.example < n_examples:
                rank = _RANK_OF[finding.severity]
                if rank > severity[finding.example]:
                    severity[finding.example] = rank
        order = sorted(
            range(len(findings)),
            key=lambda i: (
                -SEVERITY_RANK[findings[i].severity],
                findings[i].example if findings[i].example is not None else -1,
                findings[i].message_index or 0,
            ),
        )
        return cls([findings[i] for i in order], n_examples, severity, stats)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def has_errors(self) -> bool:
        return any(f.severity == ERROR for f in self.findings)

    def for_example(self, index: int) -> list[Finding]:
        return [f for f in self.findings if f.example == index]

    def by_example(self) -> dict[int, list[Finding]]:
        grouped: dict[int, list[Finding]] = {}
        for finding in self.findings:
            if finding.example is not None:
                grouped.setdefault(finding.example, []).append(finding)
        return grouped

    def dataset_findings(self) -> list[Finding]:
        """Findings about the whole file or dataset (no single example)."""
        return [f for f in self.findings if f.example is None]

    def severity_of(self, index: int) -> str | None:
        rank = int(self.example_severity[index]) if index < len(self.example_severity) else -1
        return {2: ERROR, 1: WARNING, 0: INFO}.get(rank)

    def counts(self) -> dict[str, int]:
        counted = Counter(f.severity for f in self.findings)
        return {severity: counted.get(severity, 0) for severity in (ERROR, WARNING, INFO)}

    def code_counts(self) -> dict[str, int]:
        return dict(Counter(f.code for f in self.findings).most_common())

    def summary(self) -> str:
        c = self.counts()
        return (
            f"{count_text(c[ERROR], 'error')}, {count_text(c[WARNING], 'warning')}, "
            f"{count_text(c[INFO], 'note')} in {count_text(self.n_examples, 'example')}"
        )
