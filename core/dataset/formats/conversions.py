"""Record shapes to and from the OpenAI messages shape: Alpaca, ShareGPT, prompt/response rows.

Every conversion keeps the fields it does not understand (top-level ones stay top-level,
per-message ones stay on the message). A record that cannot be converted gives a
reason instead, which the importer turns into an error finding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MESSAGES, ALPACA, SHAREGPT = "jsonl", "alpaca", "sharegpt"

SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "model": "assistant",
    "function_call": "assistant",
    "system": "system",
    "observation": "tool",
    "tool": "tool",
    "function": "tool",
}
ROLES_TO_SHAREGPT = {"user": "human", "assistant": "gpt", "system": "system", "tool": "observation"}


def record_kind(value: Any) -> str | None:
    """Which shape a record has: messages, alpaca, sharegpt, or None."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("messages"), list):
        return MESSAGES
    conversations = value.get("conversations")
    if isinstance(conversations, list):
        return SHAREGPT
    if "instruction" in value and ("output" in value or "response" in value):
        return ALPACA
    return None


def alpaca_to_record(value: Any) -> tuple[dict | None, str | None]:
    """{"instruction", "input", "output", "system"?, "history"?} to {"messages": [...], ...}."""
    if not isinstance(value, dict):
        return None, "the record is not an object"
    if "instruction" not in value:
        return None, 'the record has no "instruction"'
    output_key = "output" if "output" in value else "response" if "response" in value else None
    if output_key is None:
        return None, 'the record has no "output"'
    instruction, extra_input, output = value["instruction"], value.get("input"), value[output_key]
    for name, item in (("instruction", instruction), (output_key, output), ("input", extra_input)):
        if item is not None and not isinstance(item, str):
            return None, f'"{name}" is a {type(item).__name__}, not text'
    messages: list[dict] = []
    if isinstance(value.get("system"), str) and value["system"].strip():
        messages.append({"role": "system", "content": value["system"]})
    history = value.get("history")
    if isinstance(history, list):
        for turn in history:
            if isinstance(turn, (list, tuple)) and len(turn) == 2:
                messages.append({"role": "user", "content": turn[0]})
                messages.append({"role": "assistant", "content": turn[1]})
    prompt = instruction or ""
    if extra_input:
        prompt = f"{prompt}\n\n{extra_input}" if prompt else extra_input
    messages.append({"role": "user", "content": prompt})
    messages.append({"role": "assistant", "content": output or ""})
    record: dict = {"messages": messages}
    used = {"instruction", "input", output_key, "system"}
    if isinstance(history, list):
        used.add("history")
    for key, item in value.items():
        if key not in used:
            record[key] = item
    return record, None


def sharegpt_to_record(value: Any) -> tuple[dict | None, str | None]:
    """{"conversations": [{"from", "value"}], "system"?} to {"messages": [...], ...}."""
    if not isinstance(value, dict):
        return None, "the record is not an object"
    conversations = value.get("conversations")
    if not isinstance(conversations, list):
        return None, 'the record has no "conversations" list'
    messages: list[dict] = []
    if isinstance(value.get("system"), str) and value["system"].strip():
        messages.append({"role": "system", "content": value["system"]})
    for index, turn in enumerate(conversations):
        if not isinstance(turn, dict):
            return None, f"turn {index + 1} is not an object"
        if "from" in turn or "value" in turn:
            speaker = turn.get("from")
            role = (
                SHAREGPT_ROLES.get(str(speaker).lower(), speaker) if speaker is not None else None
            )
            message = {"role": role, "content": turn.get("value")}
            message.update({k: v for k, v in turn.items() if k not in ("from", "value")})
        else:  # already role/content
            message = dict(turn)
        messages.append(message)
    record: dict = {"messages": messages}
    for key, item in value.items():
        if key not in ("conversations", "system"):
            record[key] = item
    return record, None


def record_from_any(value: Any, kind: str) -> tuple[dict | None, str | None]:
    if kind == ALPACA:
        return alpaca_to_record(value)
    if kind == SHAREGPT:
        return sharegpt_to_record(value)
    if not isinstance(value, dict):
        return None, "the record is not an object"
    return value, None


@dataclass
class ColumnMapping:
    """Which table columns hold the prompt, the response and (optionally) the system prompt."""

    prompt: str = field(metadata={"help": "The column with what the user asks."})
    response: str = field(metadata={"help": "The column with the reply the model should learn."})
    system: str | None = field(
        default=None, metadata={"help": "Optional column with a system prompt per row."}
    )

    def __post_init__(self) -> None:
        if not self.prompt or not self.response:
            raise ValueError("Choose both a prompt column and a response column.")
        if self.prompt == self.response:
            raise ValueError("The prompt and response columns must be different columns.")

    def columns(self) -> list[str]:
        return [c for c in (self.prompt, self.response, self.system) if c]


_PROMPT_NAMES = ("prompt", "instruction", "question", "input", "query", "user", "text")
_RESPONSE_NAMES = ("response", "output", "answer", "completion", "assistant", "reply", "target")
_SYSTEM_NAMES = ("system", "system_prompt", "system_message")


def guess_mapping(columns: list[str]) -> ColumnMapping | None:
    """The obvious mapping for common column names, or None when it is not obvious."""
    lowered = {c.lower(): c for c in columns}
    prompt = next((lowered[n] for n in _PROMPT_NAMES if n in lowered), None)
    response = next((lowered[n] for n in _RESPONSE_NAMES if n in lowered), None)
    system = next((lowered[n] for n in _SYSTEM_NAMES if n in lowered), None)
    if prompt is None or response is None or prompt == response:
        return None
    return ColumnMapping(prompt=prompt, response=response, system=system)


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN from pandas-made files
        return None
    return value if isinstance(value, str) else str(value)


def row_to_record(row: dict, mapping: ColumnMapping) -> dict:
    """A prompt/response row to a record; the other columns are kept as fields."""
    messages = []
    system = _cell_text(row.get(mapping.system)) if mapping.system else None
    if system and system.strip():
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": _cell_text(row.get(mapping.prompt)) or ""})
    messages.append({"role": "assistant", "content": _cell_text(row.get(mapping.response)) or ""})
    record: dict = {"messages": messages}
    for key, value in row.items():
        if key not in mapping.columns():
            record[key] = value
    return record


def single_turn(record: dict) -> tuple[str | None, str, str] | None:
    """(system, prompt, response) when a record is one exchange of plain text, else None."""
    messages = record.get("messages")
    if not isinstance(messages, list):
        return None
    system = None
    rest = messages
    if rest and isinstance(rest[0], dict) and rest[0].get("role") == "system":
        system = rest[0].get("content")
        rest = rest[1:]
    if len(rest) != 2 or not all(isinstance(m, dict) for m in rest):
        return None
    user, assistant = rest
    if user.get("role") != "user" or assistant.get("role") != "assistant":
        return None
    texts = (system, user.get("content"), assistant.get("content"))
    if not all(t is None or isinstance(t, str) for t in texts):
        return None
    if any(set(m) - {"role", "content"} for m in messages if isinstance(m, dict)):
        return None
    return system, user.get("content") or "", assistant.get("content") or ""


def record_to_alpaca(record: dict) -> tuple[dict | None, str | None]:
    exchange = single_turn(record)
    if exchange is None:
        return None, "Alpaca holds one user message and one reply (plus a system prompt)"
    system, prompt, response = exchange
    out: dict = {"instruction": prompt, "input": "", "output": response}
    if system is not None:
        out["system"] = system
    out.update({k: v for k, v in record.items() if k != "messages" and k not in out})
    return out, None


def record_to_sharegpt(record: dict) -> tuple[dict | None, str | None]:
    messages = record.get("messages")
    if not isinstance(messages, list):
        return None, "there are no messages"
    turns = []
    for message in messages:
        if not isinstance(message, dict):
            return None, "a message is not an object"
        if message.get("tool_calls") or message.get("function_call"):
            return None, "ShareGPT cannot hold tool calls"
        role = message.get("role")
        turn = {"from": ROLES_TO_SHAREGPT.get(role, role), "value": message.get("content")}
        turn.update({k: v for k, v in message.items() if k not in ("role", "content")})
        turns.append(turn)
    out: dict = {"conversations": turns}
    out.update({k: v for k, v in record.items() if k != "messages"})
    return out, None


def record_to_row(record: dict) -> tuple[dict | None, str | None]:
    """A table row: system, prompt, response, then the other fields (non-text ones as JSON)."""
    exchange = single_turn(record)
    if exchange is None:
        return None, "a table row holds one user message and one reply (plus a system prompt)"
    system, prompt, response = exchange
    row = {"system": system or "", "prompt": prompt, "response": response}
    for key, value in record.items():
        if key != "messages" and key not in row:
            row[key] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return row, None
