"""Preference data: pairs of a preferred (chosen) and a rejected answer to the same prompt,
what DPO learns from.

A pair is stored in TRL's conversational preference format, one JSON object a line:

    {"prompt": [{"role": "user", "content": "..."}],
     "chosen": [{"role": "assistant", "content": "..."}],
     "rejected": [{"role": "assistant", "content": "..."}]}

Read here as well: TRL's standard format (prompt, chosen and rejected as plain strings) and
the implicit-prompt format (chosen and rejected as whole conversations that share every
turn but the last answer), which is what two versions of one chat conversation are.
Problems are Findings, as `data validate` reports them for chat data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.dataset.findings import ERROR, WARNING, Finding
from core.dataset.jsonl import decode_file_bytes, write_records_jsonl
from core.dataset.model import message_text
from core.dataset.tokens import count_tokens, load_tokenizer, tokenizer_name

PROMPT, CHOSEN, REJECTED = "prompt", "chosen", "rejected"
ROLES = ("system", "user", "assistant")


class PreferenceDataError(ValueError):
    """Preference data that cannot be used; the message names the file, line and fix."""


@dataclass(frozen=True)
class PreferencePair:
    """One judgment: for `prompt` (the conversation so far), `chosen` beats `rejected`.
    Both answers are lists of messages (normally one assistant message)."""

    prompt: tuple[dict, ...]
    chosen: tuple[dict, ...]
    rejected: tuple[dict, ...]
    source: str = ""  # where the judgment came from, e.g. "ab 3 pair 17" or "chat 5 turn 2"

    def record(self) -> dict:
        """The pair as one line of a TRL conversational preference file."""
        return {
            PROMPT: [dict(m) for m in self.prompt],
            CHOSEN: [dict(m) for m in self.chosen],
            REJECTED: [dict(m) for m in self.rejected],
        }

    @property
    def chosen_text(self) -> str:
        return "\n".join(message_text(m.get("content")) for m in self.chosen)

    @property
    def rejected_text(self) -> str:
        return "\n".join(message_text(m.get("content")) for m in self.rejected)

    @property
    def prompt_text(self) -> str:
        """The last user turn, as a list shows it."""
        users = [m for m in self.prompt if m.get("role") == "user"]
        return message_text((users or list(self.prompt) or [{}])[-1].get("content"))


def answer(text: str) -> tuple[dict, ...]:
    """One assistant message: the usual chosen or rejected side."""
    return ({"role": "assistant", "content": text},)


def pair_from_conversations(chosen: list[dict], rejected: list[dict], source: str = ""):
    """A pair from two whole conversations that differ only in their last answer (the
    implicit-prompt format). Raises PreferenceDataError when they do not share a prompt."""
    chosen_prompt, chosen_answer = _split_last_answer(chosen, CHOSEN)
    rejected_prompt, rejected_answer = _split_last_answer(rejected, REJECTED)
    if chosen_prompt != rejected_prompt:
        raise PreferenceDataError(
            "chosen and rejected answer different prompts (their turns before the last "
            "answer differ); a pair must compare two answers to the same conversation."
        )
    return PreferencePair(chosen_prompt, chosen_answer, rejected_answer, source)


def _split_last_answer(messages: list[dict], side: str) -> tuple[tuple, tuple]:
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1)
    if last <= 0:
        raise PreferenceDataError(
            f"{side} has no assistant answer after a prompt; give the whole conversation "
            "ending with the answer, or a separate prompt."
        )
    return tuple(messages[:last]), tuple(messages[last:])


def parse_record(record: Any, source: str = "") -> PreferencePair:
    """One JSON object in any of the three formats; PreferenceDataError says what is wrong."""
    if not isinstance(record, dict):
        raise PreferenceDataError('a line must be one object with "chosen" and "rejected".')
    missing = [key for key in (CHOSEN, REJECTED) if key not in record]
    if missing:
        raise PreferenceDataError(
            f"no {' or '.join(repr(k) for k in missing)}: a preference pair needs "
            '"prompt", "chosen" and "rejected" (or whole conversations in chosen and rejected).'
        )
    prompt = record.get(PROMPT)
    chosen, rejected = record[CHOSEN], record[REJECTED]
    if isinstance(chosen, str) and isinstance(rejected, str):  # TRL's standard format
        if prompt is None:
            raise PreferenceDataError('plain-text chosen and rejected need a "prompt".')
        prompt_messages = _messages(prompt, PROMPT, default_role="user")
        return PreferencePair(prompt_messages, answer(chosen), answer(rejected), source)
    chosen_messages = _messages(chosen, CHOSEN, default_role="assistant")
    rejected_messages = _messages(rejected, REJECTED, default_role="assistant")
    if prompt is None:
        return pair_from_conversations(list(chosen_messages), list(rejected_messages), source)
    return PreferencePair(
        _messages(prompt, PROMPT, default_role="user"), chosen_messages, rejected_messages, source
    )


def _messages(value: Any, key: str, default_role: str) -> tuple[dict, ...]:
    if isinstance(value, str):
        return ({"role": default_role, "content": value},)
    if not isinstance(value, list) or not value:
        raise PreferenceDataError(f'"{key}" must be a text or a non-empty list of messages.')
    out = []
    for position, message in enumerate(value, 1):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise PreferenceDataError(
                f'"{key}" message {position} needs a "role" of {", ".join(ROLES)}.'
            )
        if not isinstance(message.get("content"), str):
            raise PreferenceDataError(f'"{key}" message {position} needs a text "content".')
        out.append({"role": message["role"], "content": message["content"]})
    return tuple(out)


@dataclass
class PreferenceFile:
    """The pairs read from one file, each with its 1-based line, and what was wrong."""

    path: Path
    pairs: list[PreferencePair] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    n_records: int = 0


def read_preference_file(path: str | Path) -> PreferenceFile:
    """Every readable pair of a JSONL file; unreadable lines become error findings."""
    path = Path(path)
    where = str(path)
    result = PreferenceFile(path)
    data, findings = decode_file_bytes(path.read_bytes(), where)
    result.findings.extend(findings)
    for number, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        result.n_records += 1
        try:
            record = json.loads(raw.decode("utf-8"))
            pair = parse_record(record, f"line {number}")
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            result.findings.append(
                Finding(
                    ERROR,
                    "invalid_json",
                    f"Line {number} is not valid JSON ({error}).",
                    fix="Fix or delete the line.",
                    file=where,
                    line=number,
                )
            )
            continue
        except PreferenceDataError as error:
            result.findings.append(
                Finding(
                    ERROR,
                    "preference_prompt_mismatch"
                    if "different prompts" in str(error)
                    else "preference_format",
                    f"Line {number}: {error}",
                    fix="Make both sides answer the same prompt."
                    if "different prompts" in str(error)
                    else 'Write {"prompt": [...], "chosen": [...], "rejected": [...]}.',
                    file=where,
                    line=number,
                )
            )
            continue
        result.pairs.append(pair)
        result.lines.append(number)
    return result


def is_preference_file(path: str | Path) -> bool:
    """True when the file's first record is a preference pair (has chosen and rejected)."""
    try:
        with open(path, "rb") as handle:
            for raw in handle:
                if raw.strip():
                    record = json.loads(raw)
                    return isinstance(record, dict) and CHOSEN in record and REJECTED in record
    except (OSError, ValueError, RecursionError):
        # Not a readable pair: the chat validator reads it and names the line's problem.
        return False
    return False


def validate_pairs(
    pairs: list[PreferencePair],
    lines: list[int] | None = None,
    file: str | None = None,
    tokenizer: Any = None,
    max_seq_length: int | None = None,
) -> list[Finding]:
    """Identical sides, an empty side, and (with a tokenizer) pairs too long for
    max_seq_length. Different prompts are found while reading (pair_from_conversations)."""
    lines = lines or [None] * len(pairs)
    findings = []
    for index, (pair, line) in enumerate(zip(pairs, lines)):
        where = f"Line {line}" if line else f"Pair {index + 1}"
        empty = [
            side
            for side, text in ((CHOSEN, pair.chosen_text), (REJECTED, pair.rejected_text))
            if not text.strip()
        ]
        if empty:
            findings.append(
                Finding(
                    ERROR,
                    "preference_empty_side",
                    f"{where}: the {' and '.join(empty)} answer is empty.",
                    fix="Write the answer, or delete the pair.",
                    file=file,
                    line=line,
                    example=index,
                )
            )
        elif pair.chosen_text.strip() == pair.rejected_text.strip():
            findings.append(
                Finding(
                    ERROR,
                    "preference_identical",
                    f"{where}: chosen and rejected are the same answer, so the pair "
                    "teaches nothing.",
                    fix="Edit one side, or delete the pair.",
                    file=file,
                    line=line,
                    example=index,
                )
            )
    if tokenizer is not None and max_seq_length:
        findings.extend(_length_findings(pairs, lines, file, tokenizer, max_seq_length))
    return findings


def _length_findings(pairs, lines, file, tokenizer, max_seq_length) -> list[Finding]:
    tokenizer = load_tokenizer(tokenizer)
    both = [list(p.prompt) + list(p.chosen) for p in pairs]
    both += [list(p.prompt) + list(p.rejected) for p in pairs]
    counts = count_tokens(both, tokenizer, len(both))
    n = len(pairs)
    findings = []
    for index, line in enumerate(lines):
        longest = int(max(counts[index], counts[n + index]))
        if longest > max_seq_length:
            findings.append(
                Finding(
                    WARNING,
                    "preference_too_long",
                    f"{f'Line {line}' if line else f'Pair {index + 1}'}: {longest:,} tokens "
                    f"({tokenizer_name(tokenizer)}) is more than max_seq_length "
                    f"{max_seq_length:,}; the end of the answer is cut, and a cut answer "
                    "compares less than it says.",
                    fix=f"Raise max_seq_length to {longest} or shorten the prompt or the answer.",
                    file=file,
                    line=line,
                    example=index,
                )
            )
    return findings


def write_preference_file(path: str | Path, pairs: Iterable[PreferencePair]) -> None:
    """Pairs as TRL conversational preference JSONL, written atomically."""
    write_records_jsonl(path, (pair.record() for pair in pairs))
