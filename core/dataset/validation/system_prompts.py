"""Several different system prompts: the model learns a blend and production sends one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from core.dataset.findings import INFO, WARNING, Finding
from core.dataset.model import Example, message_text


def system_prompt_findings(prompts: dict[int, str | None], place) -> list[Finding]:
    """Flag examples whose system prompt differs from the most common one (none counts).

    `prompts` maps example index to its system prompt, for the examples to compare.
    """
    counts = Counter(prompts.values())
    if len(counts) <= 1:
        return []
    common, common_count = counts.most_common(1)[0]
    n = len(prompts)
    findings = [
        Finding(
            WARNING,
            "system_prompts",
            f"The dataset has {len(counts)} different system prompts (the most common is in "
            f"{common_count:,} of {n:,} examples"
            + (", and some examples have none)." if None in counts else ")."),
            fix="Use the same system prompt you will send in production for every example "
            "(Bulk actions: set one system prompt for all).",
            fixable=common is not None,
        )
    ]
    if common_count / n < 0.5:
        return findings
    for i, prompt in prompts.items():
        if prompt == common:
            continue
        what = "has no system prompt" if prompt is None else "has a different system prompt"
        findings.append(
            Finding(
                INFO if len(counts) > 20 else WARNING,
                "system_prompt_differs",
                f"Example {i + 1} {what} from the {100 * common_count / n:.0f}% majority.",
                fix="Set it to the common system prompt.",
                example=i,
                fixable=common is not None,
                **place(i),
            )
        )
    return findings


def first_system_prompt(example: Example) -> str | None:
    """The text of the system message an example starts with; None when it starts otherwise."""
    record = example.parsed_record()
    messages = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(messages, list) or not messages:
        return None
    first = messages[0]
    if isinstance(first, dict) and first.get("role") == "system":
        return message_text(first.get("content"))
    return None


def system_prompt_counts(examples: Iterable[Example]) -> Counter[str]:
    """How many examples start with each system prompt (examples without one are not counted)."""
    return Counter(p for p in map(first_system_prompt, examples) if p is not None)


def most_common_system_prompt(examples: Iterable[Example]) -> str | None:
    """The system prompt most examples start with: the fix for a differing one, the default
    for a new example."""
    counts = system_prompt_counts(examples)
    return counts.most_common(1)[0][0] if counts else None
