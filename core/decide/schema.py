"""The decide feature's tables: every saved set of wizard answers, newest last (the history).

MIGRATIONS[i] takes the component from version i to i + 1. Never edit a released
migration: append a new one.
"""

MIGRATIONS = [
    """
    CREATE TABLE decide_answers (
        id INTEGER PRIMARY KEY,
        saved_at TEXT NOT NULL,
        answers_json TEXT NOT NULL,
        outcome TEXT NOT NULL
    );
    """,
]
