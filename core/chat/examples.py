"""A good (or corrected) chat answer as training data: a dataset draft or an eval-set line.

The example is the conversation as that side's model saw it (system prompt, its earlier
turns, the prompt) with the answer, in the OpenAI messages format both the Dataset page
and eval-set files use.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.atomic_file import write_text_atomic
from core.chat.generation import conversation_messages
from core.chat.store import Conversation
from core.dataset.versions import latest_version
from core.evaluation.eval_set import EvalSetError, parse_example, parse_jsonl
from core.handoff import DraftsForDataset

DRAFT_NOTE = "from chat"


def example_record(
    conversation: Conversation, position: int, side: int, answer: str | None = None
) -> dict:
    """{"messages": [...]} for turn `position` of `side`, ending with `answer` (or the stored one)."""
    turn = conversation.turn(position)
    if answer is None:
        if side not in turn.answers:
            raise LookupError(f"Turn {position + 1} has no answer from that model yet.")
        answer = turn.answers[side].text
    if not answer.strip():
        raise ValueError("The answer is empty; write the answer you want before saving it.")
    messages = conversation_messages(
        conversation.settings.system_prompt,
        conversation.history(side, before=position),
        turn.prompt,
    )
    messages.append({"role": "assistant", "content": answer})
    return {"messages": messages}


def dataset_drafts(project, records: list[dict]) -> DraftsForDataset:
    """What the Dataset page receives: drafts added to the latest dataset version."""
    version = latest_version(project)
    return DraftsForDataset(version.id if version is not None else None, records, DRAFT_NOTE)


def append_to_eval_set(path: str | Path, record: dict) -> int:
    """Add `record` as the last line of the eval-set file at `path`; the new example count.

    A file that is not a valid eval set is left untouched (the error says which line);
    the file is rewritten atomically, so a crash leaves the old file or the new one.
    """
    path = Path(path).expanduser()
    try:
        parse_example(record, 0, "the chat answer")
    except EvalSetError as error:
        raise EvalSetError(f"{error} Nothing was written to {path}.") from error
    old = ""
    if path.exists():
        try:
            old = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise EvalSetError(
                f"{path} is not UTF-8 text, so it is not an eval set; choose another file."
            ) from error
        if old.strip():
            try:
                parse_jsonl(old, str(path))
            except EvalSetError as error:
                raise EvalSetError(
                    f"{error}\n{path} was not changed; fix it or choose another file."
                ) from error
        if old and not old.endswith("\n"):
            old += "\n"
    text = old + json.dumps(record, ensure_ascii=False) + "\n"
    write_text_atomic(path, text)
    return sum(1 for line in text.splitlines() if line.strip())
