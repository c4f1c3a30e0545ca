"""Which examples the list shows: text search, tag, finding severity, reviewed or not.

Filtering runs in slices of a few milliseconds (`FilterRun.step`), so 100,000 examples
are filtered without ever holding the GUI thread for long. The text search is the core
one (core.dataset.search): a byte search in each unedited example's raw line, parsing
only the lines that hit, so it needs no second copy of the text in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.dataset.findings import SEVERITY_RANK
from core.dataset.model import Example
from core.dataset.search import example_contains, prefilter_key

ANY = None
# Severity filter choices: a finding severity, or these two.
WITH_ANY_FINDING = "any"
WITHOUT_FINDINGS = "none"


@dataclass(frozen=True)
class ExampleFilter:
    text: str = ""
    tag: str | None = ANY
    severity: str | None = ANY  # "error", "warning", "info", WITH_ANY_FINDING, WITHOUT_FINDINGS
    reviewed: bool | None = ANY

    @property
    def is_empty(self) -> bool:
        return (
            not self.text.strip()
            and self.tag is None
            and self.severity is None
            and self.reviewed is None
        )


def text_matches(example: Example, needle: str, key: bytes | None) -> bool:
    """Whether a message or a tag holds `needle` (lower-case), case-insensitively."""
    if any(needle in tag.lower() for tag in example.tags):
        return True
    raw = example.raw
    if key is not None and raw is not None and key not in raw.lower():
        return False  # the phrase cannot be in this line at all
    return example_contains(example, needle, None)


def example_matches(
    example: Example,
    spec: ExampleFilter,
    needle: str,
    key: bytes | None,
    worst_severity: Callable[[Example], str | None],
) -> bool:
    if spec.reviewed is not None and example.reviewed != spec.reviewed:
        return False
    if spec.tag is not None and spec.tag not in example.tags:
        return False
    if spec.severity is not None:
        worst = worst_severity(example)
        if spec.severity == WITHOUT_FINDINGS:
            if worst is not None:
                return False
        elif spec.severity == WITH_ANY_FINDING:
            if worst is None:
                return False
        elif worst is None or SEVERITY_RANK[worst] < SEVERITY_RANK[spec.severity]:
            return False  # "warning" shows examples with warnings or worse
    return not needle or text_matches(example, needle, key)


class FilterRun:
    """One filtering pass over a snapshot of the examples, done a slice at a time."""

    def __init__(
        self,
        examples: Sequence[Example],
        spec: ExampleFilter,
        worst_severity: Callable[[Example], str | None],
    ) -> None:
        self.examples = list(examples)  # a snapshot: edits during the run do not disturb it
        self.spec = spec
        self._needle = spec.text.strip().lower()
        self._key = prefilter_key(spec.text.strip()) if self._needle else None
        self._worst = worst_severity
        self._position = 0
        self.matches: list[int] = []
        self.longest_step_s = 0.0

    @property
    def done(self) -> bool:
        return self._position >= len(self.examples)

    @property
    def fraction(self) -> float:
        return self._position / len(self.examples) if self.examples else 1.0

    def step(self, budget_s: float = 0.03) -> bool:
        """Filter for about `budget_s` seconds; return True when the whole run is done."""
        started = time.perf_counter()
        examples, spec, needle, key, worst = (
            self.examples,
            self.spec,
            self._needle,
            self._key,
            self._worst,
        )
        position, end = self._position, len(examples)
        matches = self.matches
        while position < end:
            stop = min(position + 256, end)
            for index in range(position, stop):
                if example_matches(examples[index], spec, needle, key, worst):
                    matches.append(index)
            position = stop
            if time.perf_counter() - started > budget_s:
                break
        self._position = position
        self.longest_step_s = max(self.longest_step_s, time.perf_counter() - started)
        return self.done

    def run_to_end(self) -> list[int]:
        while not self.step(budget_s=3600):
            pass
        return self.matches
