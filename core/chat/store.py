"""Conversations kept in the project database: their prompts, each side's answers, settings.

Side 0 is the left model and side 1 the right one; each side keeps its own history (a
model sees its own earlier answers, as edited by the user). The first prompt names a
conversation until the user renames it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from core.chat.generation import ChatSettings
from core.project.store import utc_now

NEW_TITLE = "New conversation"
TITLE_LENGTH = 48


class ConversationNotFound(LookupError):
    """The conversation was deleted (or never existed)."""


@dataclass(frozen=True)
class Answer:
    side: int
    model_label: str
    text: str
    edited: bool
    n_tokens: int
    seconds: float
    stopped: bool
    cut_off: bool = False  # ended at the token limit, not on its own

    @property
    def tokens_per_second(self) -> float:
        return self.n_tokens / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Turn:
    id: int
    position: int
    prompt: str
    answers: dict[int, Answer]


@dataclass(frozen=True)
class ConversationSummary:
    id: int
    title: str
    updated_at: str
    n_turns: int


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str
    settings: ChatSettings
    created_at: str
    updated_at: str
    turns: tuple[Turn, ...]

    def history(self, side: int, before: int | None = None) -> list[tuple[str, str]]:
        """(prompt, answer) pairs this side answered, before turn position `before`."""
        return [
            (turn.prompt, turn.answers[side].text)
            for turn in self.turns
            if side in turn.answers and (before is None or turn.position < before)
        ]

    def turn(self, position: int) -> Turn:
        for turn in self.turns:
            if turn.position == position:
                return turn
        raise IndexError(f"conversation {self.id} has no turn {position}")


def create_conversation(
    project, settings: ChatSettings | None = None, title: str = NEW_TITLE
) -> int:
    now = utc_now()
    with project.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO chat_conversations(title, settings_json, created_at, updated_at) "
            "VALUES (?, ?, ?, ?)",
            (title, json.dumps((settings or ChatSettings()).as_dict()), now, now),
        )
    return int(cursor.lastrowid)


def list_conversations(project) -> list[ConversationSummary]:
    """Every conversation, the most recently used first."""
    rows = project.connection().execute(
        "SELECT c.id, c.title, c.updated_at, COUNT(t.id) FROM chat_conversations c "
        "LEFT JOIN chat_turns t ON t.conversation_id = c.id "
        "GROUP BY c.id ORDER BY c.updated_at DESC, c.id DESC"
    )
    return [ConversationSummary(r[0], r[1], r[2], r[3]) for r in rows]


def load_conversation(project, conversation_id: int) -> Conversation:
    conn = project.connection()
    row = conn.execute(
        "SELECT id, title, settings_json, created_at, updated_at FROM chat_conversations "
        "WHERE id = ?",
        (conversation_id,),
    ).fetchone()
    if row is None:
        raise ConversationNotFound(f"Conversation {conversation_id} does not exist any more.")
    try:
        settings = ChatSettings.from_dict(json.loads(row[2]))
    except (ValueError, TypeError):  # settings from a damaged row: start from the defaults
        settings = ChatSettings()
    answers: dict[int, dict[int, Answer]] = {}
    for a in conn.execute(
        "SELECT a.turn_id, a.side, a.model_label, a.answer, a.edited, a.n_tokens, a.seconds, "
        "a.stopped, a.cut_off FROM chat_answers a JOIN chat_turns t ON t.id = a.turn_id "
        "WHERE t.conversation_id = ?",
        (conversation_id,),
    ):
        answers.setdefault(a[0], {})[a[1]] = Answer(
            a[1], a[2], a[3], bool(a[4]), a[5], a[6], bool(a[7]), bool(a[8])
        )
    turns = tuple(
        Turn(t[0], t[1], t[2], answers.get(t[0], {}))
        for t in conn.execute(
            "SELECT id, position, prompt FROM chat_turns WHERE conversation_id = ? "
            "ORDER BY position",
            (conversation_id,),
        )
    )
    return Conversation(row[0], row[1], settings, row[3], row[4], turns)


def rename_conversation(project, conversation_id: int, title: str) -> None:
    title = " ".join(title.split())
    if not title:
        raise ValueError("A conversation needs a name; type one, or press Esc to keep the old one.")
    with project.transaction() as conn:
        conn.execute(
            "UPDATE chat_conversations SET title = ? WHERE id = ?", (title, conversation_id)
        )


def delete_conversation(project, conversation_id: int) -> None:
    with project.transaction() as conn:
        conn.execute("DELETE FROM chat_conversations WHERE id = ?", (conversation_id,))


def save_settings(project, conversation_id: int, settings: ChatSettings) -> None:
    with project.transaction() as conn:
        conn.execute(
            "UPDATE chat_conversations SET settings_json = ? WHERE id = ?",
            (json.dumps(settings.as_dict()), conversation_id),
        )


def add_turn(project, conversation_id: int, prompt: str) -> Turn:
    """A new prompt at the end of the conversation; the first one names a new conversation."""
    now = utc_now()
    with project.transaction() as conn:
        row = conn.execute(
            "SELECT title FROM chat_conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        if row is None:
            raise ConversationNotFound(f"Conversation {conversation_id} does not exist any more.")
        position = conn.execute(
            "SELECT COALESCE(MAX(position) + 1, 0) FROM chat_turns WHERE conversation_id = ?",
            (conversation_id,),
        ).fetchone()[0]
        cursor = conn.execute(
            "INSERT INTO chat_turns(conversation_id, position, prompt, created_at) "
            "VALUES (?, ?, ?, ?)",
            (conversation_id, position, prompt, now),
        )
        title = row[0]
        if title == NEW_TITLE:
            first_line = " ".join(prompt.split())
            title = first_line[:TITLE_LENGTH] + ("…" if len(first_line) > TITLE_LENGTH else "")
        conn.execute(
            "UPDATE chat_conversations SET updated_at = ?, title = ? WHERE id = ?",
            (now, title or NEW_TITLE, conversation_id),
        )
    return Turn(int(cursor.lastrowid), position, prompt, {})


def save_answer(
    project,
    turn_id: int,
    side: int,
    model_label: str,
    text: str,
    n_tokens: int,
    seconds: float,
    stopped: bool = False,
    cut_off: bool = False,
) -> None:
    with project.transaction() as conn:
        conn.execute(
            "INSERT INTO chat_answers(turn_id, side, model_label, answer, n_tokens, seconds, "
            "stopped, cut_off) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(turn_id, side) DO "
            "UPDATE SET model_label = excluded.model_label, answer = excluded.answer, "
            "edited = 0, n_tokens = excluded.n_tokens, seconds = excluded.seconds, "
            "stopped = excluded.stopped, cut_off = excluded.cut_off",
            (turn_id, side, model_label, text, n_tokens, seconds, int(stopped), int(cut_off)),
        )


def edit_answer(project, turn_id: int, side: int, text: str) -> None:
    """The user's better answer replaces the model's (later turns of this side see it)."""
    with project.transaction() as conn:
        cursor = conn.execute(
            "UPDATE chat_answers SET answer = ?, edited = 1 WHERE turn_id = ? AND side = ?",
            (text, turn_id, side),
        )
        if cursor.rowcount == 0:
            raise LookupError("That answer is not stored (was the conversation deleted?).")
