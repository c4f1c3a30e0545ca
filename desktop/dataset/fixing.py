"""One-click fixes for findings whose fix is certain (core.dataset.fixes), as one undoable edit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from core.dataset.edits import ReplaceExamples
from core.dataset.findings import Finding
from core.dataset.fixes import fix_example
from core.dataset.model import Example, message_text
from core.dataset.validation.system_prompts import most_common_system_prompt


def common_system_prompt(examples: Sequence[Example]) -> str | None:
    """The system prompt most examples start with (the fix for a differing one)."""

    def first_system(example: Example) -> str | None:
        record = example.parsed_record()
        messages = record.get("messages") if isinstance(record, dict) else None
        if messages and isinstance(messages[0], dict) and messages[0].get("role") == "system":
            return message_text(messages[0].get("content"))
        return None

    return most_common_system_prompt(first_system(example) for example in examples)


def fix_edit(
    pairs: Iterable[tuple[Finding, Example]],
    position_of,
    examples: Sequence[Example],
    label: str = "Fix",
) -> ReplaceExamples | None:
    """One edit fixing every (finding, example) it can; `position_of(example)` gives the index."""
    fixed: dict[int, Example] = {}
    prompt: list[str | None] = []  # computed once, only if a system-prompt fix needs it
    for finding, example in pairs:
        position = position_of(example)
        if position is None or not finding.fixable:
            continue
        if finding.code == "system_prompt_differs" and not prompt:
            prompt.append(common_system_prompt(examples))
        current = fixed.get(position, example)
        result = fix_example(current, finding.code, prompt[0] if prompt else None)
        if result is not None:
            fixed[position] = result
    if not fixed:
        return None
    return ReplaceExamples(tuple(sorted(fixed.items(), key=lambda item: item[0])), label)
