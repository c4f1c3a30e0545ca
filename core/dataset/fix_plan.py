"""One-click fixes for findings whose fix is certain (core.dataset.fixes), as one undoable edit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.dataset.edits import EditBatch, RemoveExamples, ReplaceExamples
from core.dataset.findings import Finding
from core.dataset.fixes import REMOVING_CODES, duplicate_copies, fix_example
from core.dataset.model import Example
from core.dataset.validation.system_prompts import most_common_system_prompt
from core.figures import count_text


@dataclass(frozen=True)
class FixPlan:
    """The edit that applies the fixes, and what it does (for the message to the user)."""

    edit: ReplaceExamples | RemoveExamples | EditBatch
    fixed: int  # examples changed in place
    removed: int  # duplicate copies deleted

    def summary(self) -> str:
        parts = []
        if self.fixed:
            parts.append(f"fixed {count_text(self.fixed, 'example')}")
        if self.removed:
            parts.append(
                f"deleted {count_text(self.removed, 'duplicate')} (exact copies; the first of each "
                "is kept)"
            )
        return " and ".join(parts).capitalize() + "."


def fix_plan(
    pairs: Iterable[tuple[Finding, Example]],
    position_of,
    examples: Sequence[Example],
    label: str = "Fix",
) -> FixPlan | None:
    """One edit fixing every (finding, example) it can; `position_of(example)` gives the index.

    Examples are changed first and duplicate copies removed after, in one undoable edit;
    a copy that goes is not also changed.
    """
    fixed: dict[int, Example] = {}
    copy_candidates: set[int] = set()
    prompt: list[str | None] = []  # computed once, only if a system-prompt fix needs it
    for finding, example in pairs:
        position = position_of(example)
        if position is None or not finding.fixable:
            continue
        if finding.code in REMOVING_CODES:
            copy_candidates.add(position)
            continue
        if finding.code == "system_prompt_differs" and not prompt:
            prompt.append(most_common_system_prompt(examples))
        current = fixed.get(position, example)
        result = fix_example(current, finding.code, prompt[0] if prompt else None)
        if result is not None:
            fixed[position] = result
    copies = duplicate_copies(examples, copy_candidates) if copy_candidates else []
    gone = set(copies)
    changes = tuple(sorted(((i, e) for i, e in fixed.items() if i not in gone), key=lambda c: c[0]))
    parts = []
    if changes:
        parts.append(ReplaceExamples(changes, label))
    if copies:
        parts.append(RemoveExamples(tuple(copies), label))
    if not parts:
        return None
    edit = parts[0] if len(parts) == 1 else EditBatch(tuple(parts), label)
    return FixPlan(edit, len(changes), len(copies))
