"""One-click fixes for findings whose fix is certain. Pure functions: they return a new example.

A fix never guesses content: trimming whitespace and setting the dataset's common system
prompt are certain; rewriting a reply in another format is not, so it has no fix here.
Deleting duplicates removes examples, which is an edit on the dataset (core.dataset.edits).
"""

from __future__ import annotations

from core.dataset.model import Example

FIXABLE_CODES = ("whitespace", "system_prompt_differs")


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
