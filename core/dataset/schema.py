"""The dataset feature's tables: one row per saved (immutable) dataset version.

MIGRATIONS[i] takes the component from version i to i + 1. Append only.
"""

MIGRATIONS = [
    """
    CREATE TABLE dataset_versions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        dataset TEXT NOT NULL,
        number INTEGER NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        content_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        folder TEXT NOT NULL,
        n_train INTEGER NOT NULL,
        n_valid INTEGER NOT NULL,
        split TEXT NOT NULL,
        UNIQUE (dataset, number)
    );
    CREATE INDEX dataset_versions_by_hash ON dataset_versions (content_hash);
    """,
]
