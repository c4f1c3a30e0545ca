"""The Runs feature's tables: notes on runs, the project's budget and prices, the expert
hours spent on data, and each run's cached estimate (peak memory and hours).

Runs themselves live in the training feature's tables; these rows are keyed by its
run_id text and removed with the run (core.runs.store.delete_run). No foreign keys to
another feature's tables, so their migrations never cascade into ours.
MIGRATIONS[i] takes the component from version i to i + 1. Append only.
"""

MIGRATIONS = [
    """
    CREATE TABLE runs_notes (
        run_id TEXT PRIMARY KEY,
        note TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL
    );
    CREATE TABLE runs_settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE runs_expert_hours (
        id INTEGER PRIMARY KEY,
        worked_on TEXT NOT NULL,
        hours REAL NOT NULL CHECK (hours > 0),
        hourly_rate REAL NOT NULL DEFAULT 0 CHECK (hourly_rate >= 0),
        dataset_version_id INTEGER,
        activity TEXT NOT NULL DEFAULT '',
        recorded_at TEXT NOT NULL
    );
    CREATE TABLE runs_estimates (
        run_id TEXT PRIMARY KEY,
        peak_bytes INTEGER,
        hours REAL,
        gpu TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT '',
        problem TEXT NOT NULL DEFAULT '',
        computed_at TEXT NOT NULL
    );
    """,
]
