"""The evaluation feature's tables: eval-set versions, runs, answers, A/B pairs and ratings.

MIGRATIONS[i] takes the component from version i to i + 1. Never edit a released
migration: append a new one.
"""

MIGRATIONS = [
    """
    CREATE TABLE evaluation_sets (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        source TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        n_examples INTEGER NOT NULL,
        examples_jsonl TEXT NOT NULL,
        purpose TEXT NOT NULL DEFAULT 'task',
        created_at TEXT NOT NULL,
        UNIQUE (name, content_hash)
    );
    CREATE TABLE evaluation_runs (
        id INTEGER PRIMARY KEY,
        eval_set_id INTEGER NOT NULL REFERENCES evaluation_sets(id),
        label TEXT NOT NULL,
        kind TEXT NOT NULL,
        base_model TEXT NOT NULL,
        adapter TEXT,
        training_run TEXT,
        system_prompt TEXT,
        spec_json TEXT NOT NULL,
        generation_json TEXT NOT NULL,
        metrics_json TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX evaluation_runs_by_set ON evaluation_runs(eval_set_id);
    CREATE TABLE evaluation_outputs (
        run_id INTEGER NOT NULL REFERENCES evaluation_runs(id) ON DELETE CASCADE,
        example_index INTEGER NOT NULL,
        answer TEXT NOT NULL,
        n_tokens INTEGER NOT NULL,
        finished INTEGER NOT NULL,
        format_ok INTEGER,
        correct INTEGER,
        refusal INTEGER NOT NULL,
        checks_json TEXT NOT NULL,
        nll_sum REAL,
        nll_tokens INTEGER,
        PRIMARY KEY (run_id, example_index)
    );
    CREATE TABLE evaluation_pair_sets (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        run_a_id INTEGER NOT NULL REFERENCES evaluation_runs(id) ON DELETE CASCADE,
        run_b_id INTEGER NOT NULL REFERENCES evaluation_runs(id) ON DELETE CASCADE,
        seed INTEGER NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE evaluation_pairs (
        id INTEGER PRIMARY KEY,
        pair_set_id INTEGER NOT NULL REFERENCES evaluation_pair_sets(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        example_index INTEGER NOT NULL,
        shown_a_run_id INTEGER NOT NULL REFERENCES evaluation_runs(id) ON DELETE CASCADE,
        shown_b_run_id INTEGER NOT NULL REFERENCES evaluation_runs(id) ON DELETE CASCADE,
        UNIQUE (pair_set_id, example_index)
    );
    CREATE TABLE evaluation_ratings (
        id INTEGER PRIMARY KEY,
        pair_id INTEGER NOT NULL REFERENCES evaluation_pairs(id) ON DELETE CASCADE,
        rater TEXT NOT NULL,
        rater_kind TEXT NOT NULL,
        presented TEXT NOT NULL DEFAULT 'AB',
        pick TEXT,
        scores_json TEXT NOT NULL DEFAULT '{}',
        comment TEXT NOT NULL DEFAULT '',
        raw_text TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        UNIQUE (pair_id, rater, presented)
    );
    """,
]
