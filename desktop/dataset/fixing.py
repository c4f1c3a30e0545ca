"""One-click fixes for findings whose fix is certain (trimming whitespace, a byte-order mark).

Uses core.dataset.fixes when it is there; trimming whitespace works without it.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.dataset.edits import ReplaceExamples, trim_whitespace
from core.dataset.findings import Finding
from core.dataset.model import Example


def fixed_example(example: Example, finding: Finding) -> Example | None:
    """The example with the finding fixed, or None when there is no certain fix."""
    if not finding.fixable or example.is_broken:
        return None
    try:
        from core.dataset.fixes import fix_example
    except ImportError:
        fix_example = None
    if fix_example is not None:
        fixed = fix_example(example, finding.code)
        if fixed is not None:
            return fixed
    if finding.code == "whitespace":
        return trim_whitespace(example)
    return None


def fix_edit(
    pairs: Iterable[tuple[Finding, Example]], position_of, label: str = "Fix"
) -> ReplaceExamples | None:
    """One edit fixing every (finding, example) it can; `position_of(example)` gives the index."""
    fixed: dict[int, Example] = {}
    for finding, example in pairs:
        position = position_of(example)
        if position is None:
            continue
        current = fixed.get(position, example)
        result = fixed_example(current, finding)
        if result is not None:
            fixed[position] = result
    if not fixed:
        return None
    return ReplaceExamples(tuple(sorted(fixed.items(), key=lambda item: item[0])), label)
