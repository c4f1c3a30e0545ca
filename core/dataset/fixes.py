"""One-click fixes for findings whose fix is certain. Pure functions: they return a new example.

A fix never guesses content: trimming whitespace and setting the dataset's common system
prompt are certain; rewriting a reply in another format is not, so it has no fix here.
An exact duplicate's fix removes the copy, which is an edit on the dataset
(core.dataset.edits); `duplicate_copies` says which copies can go without losing anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from core.dataset.model import Example, message_text

FIXABLE_CODES = ("whitespace", "system_prompt_differs")
REMOVING_CODES = ("duplicate",)  # fixed by deleting the example the finding is about


def conversation_key(example: Example) -> tuple | None:
    """What training sees of an example: each message's role and text (None if unreadable)."""
    if example.is_broken:
        return None
    return tuple(
        (str(m.get("role")), message_text(m.get("content")))
        for m in example.messages
        if isinstance(m, dict)
    )


def duplicate_copies(examples: Sequence[Example], candidates: Iterable[int]) -> list[int]:
    """The candidate positions whose conversation an earlier, kept example holds word for word.

    Findings may predate an edit, so this looks at the examples as they are now: a copy
    whose twin has changed since is kept, and the first of its kind is never removed.
    """
    wanted = set(candidates)
    seen: set[tuple] = set()
    copies = []
    for position, example in enumerate(examples):
        key = conversation_key(example)
        if key is None:
            continue
        if key in seen:
            if position in wanted:
                copies.append(position)
        else:
            seen.add(key)
    return copies


def trim_whitespace(example: Example) -> Example | None:
    """Every text message trimmed of leading and trailing whitespace; None if nothing changes."""
    messages = example.messages
    changed = False
    for message in messages:
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            trimmed = message["content"].strip()
            if trimmed != message["content"] and trimmed:
                message["content"] = trimmed
                changed = True
    return example.replace(messages=messages) if changed else None


def set_system_prompt(example: Example, prompt: str) -> Example | None:
    """The example with `prompt` as its (first) system message; None if it already has it."""
    messages = example.messages
    if messages and isinstance(messages[0], dict) and messages[0].get("role") == "system":
        if messages[0].get("content") == prompt:
            return None
        messages[0] = {**messages[0], "content": prompt}
    else:
        messages.insert(0, {"role": "system", "content": prompt})
    return example.replace(messages=messages)


def fix_example(example: Example, code: str, system_prompt: str | None = None) -> Example | None:
    """The fixed example for a finding code, or None when there is no certain fix.

    `system_prompt` is the dataset's common prompt, needed for system_prompt_differs
    (core.dataset.validation.system_prompts.most_common_system_prompt gives it).
    """
    if example.is_broken:
        return None
    if code == "whitespace":
        return trim_whitespace(example)
    if code == "system_prompt_differs" and system_prompt is not None:
        return set_system_prompt(example, system_prompt)
    return None
