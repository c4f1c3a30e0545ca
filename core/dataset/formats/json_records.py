"""JSON records with their line numbers, from a JSON array file or a JSONL file.

Alpaca and ShareGPT data come either way. A broken element never hides the rest: the
reader reports it at its line, keeps its text, and resumes at the next record.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass
from typing import Any

from core.dataset.findings import ERROR, Finding
from core.dataset.jsonl import decode_file_bytes

_NEXT_OBJECT = re.compile(r"\n\s*\{")
_DECODER = json.JSONDecoder()


@dataclass
class RawRecord:
    """One record (or the text of one that could not be read) and where it starts."""

    line: int
    raw: bytes
    value: Any = None
    error: str | None = None


def _line_of(newlines: list[int], offset: int) -> int:
    return bisect.bisect_right(newlines, offset - 1) + 1


def read_json_records(data: bytes, file: str | None) -> tuple[list[RawRecord], list[Finding]]:
    """Records of a JSON array (or an object holding one list) or of JSONL, with findings."""
    data, findings = decode_file_bytes(data, file)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        findings.append(
            Finding(
                ERROR,
                "bad_encoding",
                f"Line {line} is not valid UTF-8; the damaged bytes were read as U+FFFD.",
                fix="Re-save the file as UTF-8.",
                file=file,
                line=line,
            )
        )
        text = data.decode("utf-8", errors="replace")
    stripped = text.lstrip()
    if stripped.startswith("["):
        return _array_records(text, file, findings)
    if stripped.startswith("{"):
        whole = _whole_object_records(text)
        if whole is not None:
            return whole, findings
    return _jsonl_records(text, file, findings)


def _whole_object_records(text: str) -> list[RawRecord] | None:
    """{"data": [...]}: a file that is one object holding the list of records."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    lists = [v for v in value.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
    if len(lists) != 1 or any(key in value for key in ("messages", "conversations", "instruction")):
        return None
    return [
        RawRecord(line=0, raw=json.dumps(item, ensure_ascii=False).encode(), value=item)
        for item in lists[0]
    ]


def _jsonl_records(text: str, file: str | None, findings: list[Finding]):
    records = []
    for index, line in enumerate(text.split("\n")):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError) as error:
            message = getattr(error, "msg", "nested too deeply")
            records.append(RawRecord(index + 1, line.encode(), error=message))
            findings.append(
                Finding(
                    ERROR,
                    "invalid_json",
                    f"Line {index + 1} is not valid JSON: {message}.",
                    fix="Fix the line, or delete it.",
                    file=file,
                    line=index + 1,
                )
            )
            continue
        records.append(RawRecord(index + 1, line.encode(), value=value))
    return records, findings


def _resume_point(text: str, start: int) -> re.Match | None:
    """The next record at the same indentation as the broken one (not a nested object)."""
    line_start = text.rfind("\n", 0, start) + 1
    indent = text[line_start:start]
    if indent and not indent.strip():
        return re.compile("\n" + re.escape(indent) + r"\{").search(text, start + 1)
    return _NEXT_OBJECT.search(text, start + 1)


def _array_records(text: str, file: str | None, findings: list[Finding]):
    newlines = [m.start() for m in re.finditer("\n", text)]
    records: list[RawRecord] = []
    position = text.index("[") + 1
    length = len(text)
    while True:
        while position < length and text[position] in " \t\r\n,":
            position += 1
        if position >= length:
            findings.append(
                Finding(
                    ERROR,
                    "invalid_json",
                    "The JSON array is not closed with ']' (the file may be cut short).",
                    fix="Check that the file was copied completely.",
                    file=file,
                    line=len(newlines) + 1,
                )
            )
            break
        if text[position] == "]":
            break
        start = position
        try:
            value, end = _DECODER.raw_decode(text, position)
        except (ValueError, RecursionError) as error:
            message = getattr(error, "msg", "nested too deeply")
            line = _line_of(newlines, start)
            resume = _resume_point(text, start)
            stop = resume.start() + 1 if resume else length
            records.append(RawRecord(line, text[start:stop].strip().encode(), error=message))
            findings.append(
                Finding(
                    ERROR,
                    "invalid_json",
                    f"The record starting on line {line} is not valid JSON: {message}.",
                    fix="Fix the record, or delete it.",
                    file=file,
                    line=line,
                )
            )
            if resume is None:
                break
            position = stop
            continue
        records.append(RawRecord(_line_of(newlines, start), text[start:end].encode(), value=value))
        position = end
    return records, findings
