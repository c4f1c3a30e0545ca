"""One run layer: one RunNotFound, one RunBusy, one delete_run that leaves nothing of the run
behind in any table, and one RunState whose values are what the database holds."""

from __future__ import annotations

import pytest

from core.project.store import utc_now
from core.runs import record as runs
from core.runs import store
from core.runs.record import RunBusy, RunLock, RunNotFound, RunState
from core.runs.records import Advice, MetricRecord


def add_run(project, run_id: str, status: str = RunState.FINISHED) -> int:
    (project.runs_dir / run_id).mkdir(parents=True)
    return runs.insert_run_row(
        project,
        run_id,
        {
            "name": run_id,
            "status": status,
            "base_model": "m",
            "method": "lora",
            "folder": run_id,
            "config_yaml": "",
            "started_at": utc_now(),
        },
    )


def add_everything_a_run_owns(project, run_id: str, key: int, eval_set_id: int) -> None:
    """Rows in every table that refers to a training run, the way each feature writes them."""
    from core.export.records import add_export_record

    runs.insert_metric_row(project, key, MetricRecord(step=1, loss=2.0))
    runs.insert_advice_row(
        project, key, Advice(step=1, severity="info", kind="k", title="t", message="m")
    )
    store.set_note(project, run_id, "a note")
    with project.transaction() as conn:
        conn.execute(
            "INSERT INTO runs_estimates(run_id, peak_bytes, hours, computed_at) VALUES (?, 1, 1, ?)",
            (run_id, utc_now()),
        )
        cursor = conn.execute(
            "INSERT INTO evaluation_runs(eval_set_id, label, kind, base_model, training_run,"
            " spec_json, generation_json, metrics_json, status, created_at)"
            " VALUES (?, ?, 'adapter', 'm', ?, '{}', '{}', '{}', 'finished', ?)",
            (eval_set_id, run_id, run_id, utc_now()),
        )
        conn.execute(
            "INSERT INTO evaluation_outputs(run_id, example_index, answer, n_tokens, finished,"
            " refusal, checks_json) VALUES (?, 0, 'a', 1, 1, 0, '{}')",
            (cursor.lastrowid,),
        )
    add_export_record(project, run_id, "gguf", project.folder / "out.gguf", None, {})


def rows_mentioning(project, run_id: str, key: int) -> list[str]:
    """Every table row that holds the run's id, or its row key in a column pointing at it."""
    conn = project.connection()
    found = []
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        if table == "project_changes":
            continue  # the project's change log says the run was deleted: it must name it
        pointers = [
            fk[3]
            for fk in conn.execute(f"PRAGMA foreign_key_list({table})")
            if fk[2] == "training_runs"
        ]
        for row in conn.execute(f"SELECT * FROM {table}"):
            values = tuple(row)
            if run_id in values or any(row[column] == key for column in pointers):
                found.append(f"{table}: {values}")
    return found


def test_deleting_a_run_leaves_no_row_with_its_id_in_any_table_but_keeps_the_eval_set(project):
    with project.transaction() as conn:
        eval_set_id = conn.execute(
            "INSERT INTO evaluation_sets(name, source, content_hash, n_examples, examples_jsonl,"
            " created_at) VALUES ('held out', 'f', 'h', 1, '{}', ?)",
            (utc_now(),),
        ).lastrowid
    gone = add_run(project, "gone")
    kept = add_run(project, "kept")
    add_everything_a_run_owns(project, "gone", gone, eval_set_id)
    add_everything_a_run_owns(project, "kept", kept, eval_set_id)
    assert rows_mentioning(project, "gone", gone)

    store.delete_run(project, "gone")

    assert rows_mentioning(project, "gone", gone) == []
    kept_tables = {row.split(":")[0] for row in rows_mentioning(project, "kept", kept)}
    assert kept_tables == {
        "training_runs",
        "training_metrics",
        "training_advice",
        "runs_notes",
        "runs_estimates",
        "export_records",
        "evaluation_runs",
    }  # the other run keeps all of its own
    conn = project.connection()
    assert conn.execute("SELECT COUNT(*) FROM evaluation_outputs").fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(*) FROM evaluation_sets").fetchone()[0] == 1


def test_run_not_found_and_run_busy_are_one_class_each():
    from core.history import summaries

    assert store.RunNotFound is summaries.RunNotFound is RunNotFound
    assert store.RunBusy is RunBusy
    assert not hasattr(runs, "delete_run")  # one delete_run: core.runs.store's


def test_a_run_being_trained_is_busy_and_a_missing_one_is_not_found(project):
    add_run(project, "busy", status=RunState.RUNNING)
    lock = RunLock(project.runs_dir / "busy")
    lock.acquire()
    try:
        with pytest.raises(RunBusy):
            store.delete_run(project, "busy")
        assert runs.load_run(project, "busy").status is RunState.RUNNING
    finally:
        lock.release()
    assert runs.load_run(project, "busy").status is RunState.INTERRUPTED
    with pytest.raises(RunNotFound):
        store.delete_run(project, "nobody")


def test_run_states_are_the_strings_the_database_and_run_json_hold(project):
    assert [state.value for state in RunState] == [
        "running",
        "finished",
        "stopped",
        "failed",
        "interrupted",
    ]
    add_run(project, "done", status=RunState.FINISHED)
    stored = project.connection().execute("SELECT status FROM training_runs").fetchone()[0]
    assert stored == "finished" and type(stored) is str
    assert f"{RunState.FINISHED}" == "finished" and RunState("stopped") is RunState.STOPPED


def test_the_runs_page_and_the_training_record_see_one_run_dataclass(project):
    from core.history.summaries import load_summary

    add_run(project, "one")
    store.set_note(project, "one", "baseline")
    record, summary = runs.load_run(project, "one"), load_summary(project, "one")
    assert type(record) is runs.RunInfo and isinstance(summary, runs.RunInfo)
    assert (summary.run_id, summary.status, summary.folder) == (
        record.run_id,
        record.status,
        record.folder,
    )
    assert summary.note == "baseline" and not hasattr(record, "note")  # the Runs page's own


def test_the_curves_and_the_record_replay_a_resumed_run_alike(tmp_path):
    """One resume rule for every reader of metrics.jsonl (core.runs.records.replayed_lines)."""
    from core.runs.curves import loss_curves
    from core.runs.records import read_metrics_file, resumed_marker

    path = tmp_path / "metrics.jsonl"
    lines = [MetricRecord(step=s, loss=4.0 - s).to_json() for s in (1, 2, 3, 4)]
    lines += [MetricRecord(step=3, kind="eval", eval_loss=9.0).to_json(), resumed_marker(2)]
    lines += [MetricRecord(step=s, loss=1.0 / s).to_json() for s in (3, 4)]
    path.write_text("\n".join(lines) + "\n{torn", encoding="utf-8")
    records = read_metrics_file(path)
    curves = loss_curves(path, "step")
    assert [(r.step, r.loss) for r in records] == [(1, 3.0), (2, 2.0), (3, 1 / 3), (4, 0.25)]
    assert list(zip(curves.train.x, curves.train.y)) == [(r.step, r.loss) for r in records]
    assert curves.validation.x == []  # the eval at step 3 was redone away by the resume
