"""The errors that block training: a record that is not a well-formed conversation.

A conversation is: an optional system message first, then user and assistant turns
alternating, ending with the assistant. Tool messages belong to the assistant turn that
called them (assistant with tool_calls, tool..., assistant).
"""

from __future__ import annotations

from typing import Any

from core.dataset.findings import ERROR, WARNING, Finding
from core.dataset.model import ROLES

_TURN_ROLES = {"function": "tool"}  # legacy OpenAI name for a tool result


def _content_is_text(content: Any) -> bool:
    if isinstance(content, str):
        return True
    return isinstance(content, list) and all(isinstance(part, (dict, str)) for part in content)


def _content_blank(content: Any) -> bool:
    if isinstance(content, str):
        return not content or content.isspace()
    if isinstance(content, list):
        for part in content:
            text = part.get("text") if isinstance(part, dict) else part
            if not isinstance(text, str) or text.strip():
                return False
        return True
    return True


def check_record(
    record: Any, example: int, line: int | None, file: str | None, example_id: str | None = None
) -> list[Finding]:
    """Every structural error (and the one structural warning, an empty user message)."""

    def finding(code, text, fix, message_index=None, severity=ERROR):
        return Finding(
            severity,
            code,
            text,
            fix=fix,
            file=file,
            line=line,
            example=example,
            message_index=message_index,
            example_id=example_id,
        )

    where = f"Example {example + 1}" + (f" (line {line})" if line else "")
    if not isinstance(record, dict):
        return [
            finding("not_an_object", f"{where} is not a JSON object.", 'Use {"messages": [...]}.')
        ]
    if "messages" not in record:
        return [
            finding(
                "missing_messages",
                f'{where} has no "messages" field.',
                'Put the conversation in "messages": a list of {"role", "content"} objects, '
                "or import it with the right format (Alpaca, ShareGPT, CSV).",
            )
        ]
    messages = record["messages"]
    if not isinstance(messages, list):
        return [
            finding(
                "missing_messages",
                f'{where}: "messages" is not a list.',
                "Make it a list of messages.",
            )
        ]
    if not messages:
        return [
            finding(
                "empty_messages",
                f"{where} has an empty conversation.",
                "Add a user and an assistant message, or delete the example.",
            )
        ]

    findings: list[Finding] = []
    roles: list[str | None] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            findings.append(
                finding(
                    "message_not_object",
                    f"{where}, message {index + 1} is not an object.",
                    'Each message is {"role": ..., "content": ...}.',
                    index,
                )
            )
            roles.append(None)
            continue
        role = message.get("role")
        role = _TURN_ROLES.get(role, role) if isinstance(role, str) else role
        if role not in ROLES:
            findings.append(
                finding(
                    "unknown_role",
                    f"{where}, message {index + 1} has role {role!r}; expected system, user, assistant or tool.",
                    "Pick a role with the role picker.",
                    index,
                )
            )
            roles.append(None)
            continue
        roles.append(role)
        content = message.get("content")
        calls_tools = role == "assistant" and bool(
            message.get("tool_calls") or message.get("function_call")
        )
        if content is None and not calls_tools:
            findings.append(
                finding(
                    "missing_content",
                    f"{where}, message {index + 1} ({role}) has no content.",
                    "Write the message, or delete it.",
                    index,
                )
            )
        elif content is not None and not _content_is_text(content):
            findings.append(
                finding(
                    "bad_content",
                    f"{where}, message {index + 1} ({role}): content is a "
                    f"{type(content).__name__}, not text.",
                    "Make the content a string.",
                    index,
                )
            )
        elif role == "assistant" and not calls_tools and _content_blank(content):
            findings.append(
                finding(
                    "empty_assistant",
                    f"{where}, message {index + 1}: the assistant reply is empty.",
                    "Write the reply the model should learn, or delete the example.",
                    index,
                )
            )
        elif role == "user" and _content_blank(content):
            findings.append(
                finding(
                    "empty_user",
                    f"{where}, message {index + 1}: the user message is empty.",
                    "Write what the user asks.",
                    index,
                    severity=WARNING,
                )
            )
    if "assistant" not in roles:
        findings.append(
            finding(
                "no_assistant",
                f"{where} has no assistant message, so there is nothing to learn.",
                "Add the assistant's reply.",
            )
        )
    key = tuple(roles)
    if key not in _ORDER_OK:
        _ORDER_OK[key] = not _order_findings(roles, finding, where)
    if not _ORDER_OK[key]:
        findings.extend(_order_findings(roles, finding, where))
    return findings


# Whether a sequence of roles is in a valid order: most datasets use a handful of shapes.
_ORDER_OK: dict[tuple, bool] = {}


def _order_findings(roles: list[str | None], finding, where: str) -> list[Finding]:
    """System only first; then user, assistant alternating (tools inside the assistant turn)."""
    found: list[Finding] = []
    expected = "user"  # what the next turn should be
    previous: str | None = None
    first_turn = True
    for index, role in enumerate(roles):
        if role is None:
            previous = None
            continue
        if role == "system":
            if index != 0:
                found.append(
                    finding(
                        "role_order",
                        f"{where}, message {index + 1}: a system message may only come first.",
                        "Move it to the top, or make it a user message.",
                        index,
                    )
                )
            continue
        if role == "tool":
            if previous not in ("assistant", "tool"):
                found.append(
                    finding(
                        "role_order",
                        f"{where}, message {index + 1}: a tool result must follow "
                        "the assistant message that called the tool.",
                        "Move or delete it.",
                        index,
                    )
                )
            previous = role
            continue
        if first_turn and role != "user":
            found.append(
                finding(
                    "role_order",
                    f"{where}, message {index + 1}: the conversation must start "
                    f"with the user (after an optional system message), not the {role}.",
                    "Add the user's message before it.",
                    index,
                )
            )
        elif not first_turn and role == "assistant" and previous == "tool":
            pass  # the assistant answers after its tool results
        elif not first_turn and role != expected:
            found.append(
                finding(
                    "role_order",
                    f"{where}, message {index + 1}: two {role} messages in a row; "
                    "user and assistant must alternate.",
                    "Merge them, or add the missing turn between them.",
                    index,
                )
            )
        first_turn = False
        expected = "assistant" if role == "user" else "user"
        previous = role
    last = next((role for role in reversed(roles) if role is not None), None)
    if last is not None and last != "assistant" and "assistant" in roles:
        found.append(
            finding(
                "role_order",
                f"{where} ends with a {last} message; it must end with the assistant's reply.",
                "Add the reply, or delete the last message.",
                len(roles) - 1,
            )
        )
    return found
