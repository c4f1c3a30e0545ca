"""Reading an answer safely: what a preset may assume about the text it scores.

A completion is whatever the model wrote: it can be megabytes long, nest JSON thousands
deep, carry lone surrogates, or meet a user's regular expression that backtracks for
hours. Every preset goes through these helpers, which bound the work per answer.
"""

from __future__ import annotations

import json

import regex

MAX_ANSWER_CHARS = 50_000  # far above any answer worth rewarding; longer scores as it is cut
MAX_JSON_DEPTH = 64  # nesting beyond this is not an answer anyone asked for
REGEX_TIMEOUT_S = 0.05  # per match: a catastrophic pattern stops here and scores 0


def answer_text(completion) -> str:
    """The text of a completion as TRL hands it over: a string, or a conversational list
    of messages (the assistant's content), or anything else (empty)."""
    if isinstance(completion, str):
        text = completion
    elif isinstance(completion, (list, tuple)):
        parts = []
        for message in completion:
            if isinstance(message, dict) and isinstance(message.get("content"), str):
                parts.append(message["content"])
        text = "".join(parts)
    elif isinstance(completion, dict) and isinstance(completion.get("content"), str):
        text = completion["content"]
    else:
        return ""
    # Lone surrogates (invalid unicode) become U+FFFD so encoders never raise later.
    text = text[:MAX_ANSWER_CHARS]
    return text.encode("utf-8", "replace").decode("utf-8")


def _depth(value) -> int:
    """How deep a parsed JSON value nests, walked without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                stack.extend((child, depth + 1) for child in item)
    return deepest


def parse_answer_json(text: str) -> tuple[bool, object]:
    """(parsed?, value): the whole stripped answer as JSON, refused when it nests deeper
    than MAX_JSON_DEPTH or has numbers Python will not read (int digit limit)."""
    stripped = text.strip()
    if not stripped or stripped[0] not in '{["-0123456789tfn':
        return False, None
    try:
        value = json.loads(stripped)
    except (ValueError, RecursionError):
        return False, None
    if _depth(value) > MAX_JSON_DEPTH:
        return False, None
    return True, value


def compile_pattern(pattern: str):
    """A compiled pattern, or ValueError naming what is wrong with it."""
    try:
        return regex.compile(pattern)
    except regex.error as error:
        raise ValueError(
            f"pattern {pattern!r} is not a valid regular expression: {error}"
        ) from None


def pattern_matches(compiled, text: str, full: bool) -> bool:
    """Whether the pattern matches (the whole text when `full`); a match that runs past
    REGEX_TIMEOUT_S counts as no match."""
    try:
        if full:
            return compiled.fullmatch(text, timeout=REGEX_TIMEOUT_S) is not None
        return compiled.search(text, timeout=REGEX_TIMEOUT_S) is not None
    except TimeoutError:
        return False


def normalise(text: str) -> str:
    """Case, runs of spaces and a final period do not change a short answer (as Evaluate's
    reference match treats them)."""
    return " ".join(text.split()).casefold().rstrip(".!").strip()
