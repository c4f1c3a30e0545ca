"""Reading training conversations: JSONL in the OpenAI messages format, checked line by line.

Each line is {"messages": [{"role": ..., "content": ...}, ...]} (optionally "tools").
Anything else stops the run before it starts, naming the file and line and saying what
to fix; the dataset page has the full validator, this is the trainer's own guard.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from core.dataset.model import message_text

ROLES = ("system", "user", "assistant", "tool")


class TrainingDataError(ValueError):
    """Training data that cannot be used, with the file and line at fault."""

    def __init__(self, file: str | Path, line: int | None, message: str) -> None:
        where = f"{file} line {line}" if line is not None else str(file)
        super().__init__(f"{where}: {message}")
        self.file = str(file)
        self.line = line
        self.message = message


@dataclass
class Conversation:
    messages: list[dict]
    tools: list | None = None
    line: int | None = None  # where it came from, for error messages

    def as_record(self) -> dict:
        record = {"messages": self.messages}
        if self.tools:
            record["tools"] = self.tools
        return record


def parse_conversation(record, file: str | Path, line: int | None) -> Conversation:
    if not isinstance(record, dict):
        raise TrainingDataError(file, line, 'expected a JSON object like {"messages": [...]}.')
    messages = record.get("messages")
    if messages is None:
        raise TrainingDataError(
            file, line, "no 'messages' field; each line needs {\"messages\": [...]}."
        )
    if not isinstance(messages, list) or not messages:
        raise TrainingDataError(file, line, "'messages' must be a non-empty list.")
    clean = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise TrainingDataError(file, line, f"message {index + 1} is not an object.")
        role = message.get("role")
        if role not in ROLES:
            raise TrainingDataError(
                file,
                line,
                f"message {index + 1} has role {role!r}; use one of {', '.join(ROLES)}.",
            )
        if "content" not in message:
            raise TrainingDataError(file, line, f"message {index + 1} has no 'content'.")
        item = dict(message)
        item["content"] = message_text(message["content"])
        clean.append(item)
    if not any(m["role"] == "assistant" for m in clean):
        raise TrainingDataError(
            file, line, "no assistant message: there is nothing for the model to learn."
        )
    tools = record.get("tools")
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except json.JSONDecodeError:
            raise TrainingDataError(file, line, "'tools' is not valid JSON.") from None
    return Conversation(clean, tools if tools else None, line)


def read_conversations(path: str | Path) -> list[Conversation]:
    path = Path(path).expanduser()
    if not path.is_file():
        raise TrainingDataError(path, None, "file not found.")
    conversations = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise TrainingDataError(path, number, "not UTF-8 text.") from None
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                raise TrainingDataError(
                    path, number, f"not valid JSON ({error.msg} at column {error.colno})."
                ) from None
            conversations.append(parse_conversation(record, path, number))
    if not conversations:
        raise TrainingDataError(path, None, "no conversations in the file.")
    return conversations


def hold_out(
    conversations: list[Conversation], fraction: float, seed: int
) -> tuple[list[Conversation], list[Conversation]]:
    """Split off a validation fraction (at least 1 example, only from 10 examples up)."""
    if fraction <= 0 or len(conversations) < 10:
        return conversations, []
    order = list(range(len(conversations)))
    random.Random(seed).shuffle(order)
    n_valid = max(1, round(len(conversations) * fraction))
    valid_idx = set(order[:n_valid])
    train = [c for i, c in enumerate(conversations) if i not in valid_idx]
    valid = [c for i, c in enumerate(conversations) if i in valid_idx]
    return train, valid
