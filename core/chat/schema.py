"""The chat feature's tables: conversations, their turns (one prompt each) and the answers.

A turn holds the user's prompt; each side (0: left model, 1: right model) answers it in
chat_answers, so each model keeps its own history. MIGRATIONS[i] takes the component
from version i to i + 1. Never edit a released migration: append a new one.
"""

MIGRATIONS = [
    """
    CREATE TABLE chat_conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        settings_json TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE chat_turns (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES chat_conversations(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        prompt TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (conversation_id, position)
    );
    CREATE TABLE chat_answers (
        turn_id INTEGER NOT NULL REFERENCES chat_turns(id) ON DELETE CASCADE,
        side INTEGER NOT NULL,
        model_label TEXT NOT NULL,
        answer TEXT NOT NULL,
        edited INTEGER NOT NULL DEFAULT 0,
        n_tokens INTEGER NOT NULL,
        seconds REAL NOT NULL,
        stopped INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (turn_id, side)
    );
    """,
    # v2: whether a reply ended at the token limit rather than on its own.
    "ALTER TABLE chat_answers ADD COLUMN cut_off INTEGER NOT NULL DEFAULT 0;",
]
