"""The project component's own tables. Other features add theirs in core/<feature>/schema.py.

MIGRATIONS[i] takes the component from version i to i + 1. Never edit a released
migration: append a new one.
"""

MIGRATIONS = [
    """
    CREATE TABLE project_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE project_models (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL,
        trust_remote_code INTEGER NOT NULL DEFAULT 0,
        allow_pickle INTEGER NOT NULL DEFAULT 0,
        added_at TEXT NOT NULL
    );
    """,
    # The change log (core/project/events.py): what each process announced, so that the
    # app sees a run the CLI finished in the same project.
    """
    CREATE TABLE project_changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL DEFAULT '',
        process TEXT NOT NULL,
        at TEXT NOT NULL
    );
    """,
]
