"""Several different system prompts: the model learns a blend and production sends one."""

from __future__ import annotations

from collections import Counter

from core.dataset.findings import INFO, WARNING, Finding


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


def most_common_system_prompt(prompts) -> str | None:
    counts = Counter(p for p in prompts if p is not None)
    return counts.most_common(1)[0][0] if counts else None
