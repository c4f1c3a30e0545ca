"""The export feature's table: every completed export of a run, where it went and its parity.

MIGRATIONS[i] takes the component from version i to i + 1. Append only.
"""

MIGRATIONS = [
    """
    CREATE TABLE export_records (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        format TEXT NOT NULL,
        path TEXT NOT NULL,
        parity_json TEXT,
        result_json TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX export_records_by_run ON export_records(run_id);
    """,
]
