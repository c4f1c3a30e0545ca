"""The training feature's tables: runs, their metric records and the advisor's messages.

A run's folder (runs/<run_id>/) is the primary record; these rows are written as the
run happens so the Runs page can list and compare runs without reading every folder.
MIGRATIONS[i] takes the component from version i to i + 1. Append only.
"""

MIGRATIONS = [
    """
    CREATE TABLE training_runs (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'stopped', 'failed')),
        status_reason TEXT NOT NULL DEFAULT '',
        base_model TEXT NOT NULL,
        base_model_path TEXT NOT NULL DEFAULT '',
        method TEXT NOT NULL,
        dataset_version_id INTEGER,
        dataset_version_label TEXT NOT NULL DEFAULT '',
        dataset_content_hash TEXT NOT NULL DEFAULT '',
        train_file TEXT NOT NULL DEFAULT '',
        validation_file TEXT NOT NULL DEFAULT '',
        config_yaml TEXT NOT NULL,
        folder TEXT NOT NULL,
        device TEXT NOT NULL DEFAULT '',
        started_at TEXT NOT NULL,
        ended_at TEXT,
        duration_s REAL NOT NULL DEFAULT 0,
        steps_done INTEGER NOT NULL DEFAULT 0,
        max_steps INTEGER NOT NULL DEFAULT 0,
        peak_memory_bytes INTEGER,
        memory_kind TEXT NOT NULL DEFAULT '',
        best_val_loss REAL,
        best_step INTEGER,
        final_val_loss REAL,
        final_train_loss REAL,
        tokens_per_second REAL,
        final_model_dir TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX training_runs_by_dataset ON training_runs (dataset_version_id);
    CREATE TABLE training_metrics (
        run INTEGER NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('train', 'eval')),
        epoch REAL,
        loss REAL,
        eval_loss REAL,
        learning_rate REAL,
        grad_norm REAL,
        tokens_per_second REAL,
        memory_bytes INTEGER,
        record_json TEXT NOT NULL
    );
    CREATE INDEX training_metrics_by_run ON training_metrics (run, step);
    CREATE TABLE training_advice (
        run INTEGER NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        severity TEXT NOT NULL,
        kind TEXT NOT NULL,
        message TEXT NOT NULL,
        advice_json TEXT NOT NULL
    );
    CREATE INDEX training_advice_by_run ON training_advice (run, step);
    """,
]
