"""Enough examples for the kind of change the Decide wizard recorded (the seed's sizes)."""

from __future__ import annotations

from core.dataset.findings import ERROR, WARNING, Finding
from core.decide.store import load_decision

# The seed: 50-200 examples for a simple format/style change; 500-2,000 for domain
# adaptation; 2,000-10,000 for new reasoning patterns. Without a recorded decision,
# fewer than the smallest of these is worth saying.
MIN_WITHOUT_DECISION = 50
TASK_KIND_WORDS = {
    "format": "a format or style change",
    "domain": "domain adaptation",
    "reasoning": "new reasoning patterns",
}


def recorded_need(project) -> tuple[str, tuple[int, int]] | None:
    """(task kind, (low, high)) from the Decide wizard, if it recorded one."""
    if project is None:
        return None
    try:
        decision = load_decision(project)
    except Exception:  # another feature's storage problem must not break validation
        return None
    if decision is None:
        return None
    try:
        low, high = decision.examples_needed
        return str(decision.task_kind), (int(low), int(high))
    except (AttributeError, TypeError, ValueError):
        return None


def size_findings(n_usable: int, need: tuple[str, tuple[int, int]] | None) -> list[Finding]:
    if n_usable == 0:
        return [
            Finding(
                ERROR,
                "no_examples",
                "There is not one usable example to train on.",
                fix="Add conversations (user message, assistant reply), or import a file.",
            )
        ]
    if need is not None:
        kind, (low, high) = need
        if n_usable >= low:
            return []
        return [
            Finding(
                WARNING,
                "too_few_examples",
                f"{n_usable:,} usable examples; for the change recorded in Decide "
                f"({TASK_KIND_WORDS.get(kind, kind)}) "
                f"{low:,} to {high:,} good examples are typical.",
                fix=f"Add at least {low - n_usable:,} more, written or reviewed by someone who "
                "knows what the ideal reply is. Quality matters more than quantity.",
            )
        ]
    if n_usable >= MIN_WITHOUT_DECISION:
        return []
    return [
        Finding(
            WARNING,
            "too_few_examples",
            f"{n_usable:,} usable examples; even a simple format or style change usually needs "
            f"{MIN_WITHOUT_DECISION} to 200 good ones.",
            fix="Add more examples, or record your goal in Decide for a tailored target.",
        )
    ]
