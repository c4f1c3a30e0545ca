"""One run per row for the Runs table and `runs list`: what, when, how, how well, what it cost.

Everything comes from a few SQL queries over the training, evaluation, dataset and runs
tables (no run folder is read, only each final model folder's existence checked), so 200
runs load in milliseconds; loss curves are read separately, only for the runs a user
selects (core.runs.curves). Each run is a core.training.runs.RunInfo with the Runs page's
fields filled.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

from core.runs.config_text import config_values, key_settings_text
from core.runs.estimates import RunEstimate
from core.runs.pricing import HourlyPrice, gpu_catalog_or_none, hourly_price
from core.training.runs import RunInfo, RunNotFound, run_from_row

_SUMMARY_SQL = """
SELECT r.*, n.note, e.peak_bytes, e.hours, e.gpu, e.source, e.problem
FROM training_runs r
LEFT JOIN runs_notes n ON n.run_id = r.run_id
LEFT JOIN runs_estimates e ON e.run_id = r.run_id
{where}
ORDER BY r.started_at DESC, r.id DESC
"""


def _dataset_names(project) -> dict[int, str]:
    try:
        rows = project.connection().execute("SELECT id, dataset, number FROM dataset_versions")
        return {row[0]: f"{row[1]} v{row[2]}" for row in rows}
    except sqlite3.OperationalError:  # the dataset feature is not installed
        return {}


def load_summaries(project, run_ids: list[str] | None = None) -> list[RunInfo]:
    """Every run of the project (or those of `run_ids`), newest first."""
    from core.runs.evals import evals_by_run
    from core.runs.spend import project_price

    where, params = "", ()
    if run_ids is not None:
        if not run_ids:
            return []
        where = f"WHERE r.run_id IN ({', '.join('?' for _ in run_ids)})"
        params = tuple(run_ids)
    rows = project.connection().execute(_SUMMARY_SQL.format(where=where), params).fetchall()
    if not rows:
        return []
    names = _dataset_names(project)
    evals = evals_by_run(project)
    catalog = gpu_catalog_or_none()
    fallback_price = project_price(project)
    prices: dict[str, HourlyPrice] = {}
    summaries = []
    for row in rows:
        run = run_from_row(project, row)
        settings = config_values(row["config_yaml"])
        version_id = row["dataset_version_id"]
        if version_id is not None:
            dataset = names.get(version_id) or row["dataset_version_label"] or f"#{version_id}"
        else:
            dataset = Path(row["train_file"]).name if row["train_file"] else ""
        if run.device not in prices:
            prices[run.device] = hourly_price(run.device, catalog, fallback_price)
        estimate = None
        if row["source"] is not None:
            estimate = RunEstimate(
                row["peak_bytes"], row["hours"], row["gpu"], row["source"], row["problem"]
            )
        summaries.append(
            dataclasses.replace(
                run,
                dataset_label=dataset,
                settings=settings,
                key_settings=key_settings_text(settings, row["method"]),
                note=row["note"] or "",
                estimate=estimate,
                price=prices[run.device],
                evals=evals.get(row["run_id"], []),
            )
        )
    return summaries


def load_summary(project, run_id: str) -> RunInfo:
    found = load_summaries(project, [run_id])
    if not found:
        raise RunNotFound(f"No run {run_id!r} in {project.folder}.")
    return found[0]


def resolve_run(project, id_or_name: str) -> RunInfo:
    """A run by its id, or by its name when exactly one run has it."""
    text = id_or_name.strip()
    conn = project.connection()
    row = conn.execute("SELECT run_id FROM training_runs WHERE run_id = ?", (text,)).fetchone()
    if row is None:
        matches = conn.execute(
            "SELECT run_id FROM training_runs WHERE name = ? ORDER BY id", (text,)
        ).fetchall()
        if len(matches) > 1:
            ids = ", ".join(m[0] for m in matches)
            raise RunNotFound(f"{len(matches)} runs are named {text!r} ({ids}); give the run id.")
        if not matches:
            raise RunNotFound(
                f"No run with id or name {text!r} in {project.folder}; "
                "`finetune-studio runs list` shows them."
            )
        row = matches[0]
    return load_summary(project, row[0])
