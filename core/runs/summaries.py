"""One row per run for the Runs table and `runs list`: what, when, how, how well, what it cost.

Everything comes from a few SQL queries over the training, evaluation, dataset and runs
tables (no run folder is read), so 200 runs load in milliseconds; loss curves are read
separately, only for the runs a user selects (core.runs.curves).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from core.runs.config_text import config_values, key_settings_text
from core.runs.estimates import RunEstimate
from core.runs.evals import EvalLink, summary_text
from core.runs.pricing import HourlyPrice, cost_of, gpu_catalog_or_none, hourly_price, hours_of
from core.training.runs import INTERRUPTED_REASON, RunNotFound, RunState, live_state

_SUMMARY_SQL = """
SELECT r.run_id, r.name, r.status, r.status_reason, r.base_model, r.method,
       r.dataset_version_id, r.dataset_version_label, r.config_yaml, r.folder, r.device,
       r.started_at, r.ended_at, r.duration_s, r.steps_done, r.max_steps,
       r.peak_memory_bytes, r.memory_kind, r.best_val_loss, r.best_step, r.final_val_loss,
       r.final_train_loss, r.train_file, n.note,
       e.peak_bytes, e.hours, e.gpu, e.source, e.problem
FROM training_runs r
LEFT JOIN runs_notes n ON n.run_id = r.run_id
LEFT JOIN runs_estimates e ON e.run_id = r.run_id
{where}
ORDER BY r.started_at DESC, r.id DESC
"""


@dataclass
class RunSummary:
    run_id: str
    name: str
    status: RunState
    reason: str
    base_model: str
    method: str
    dataset_version_id: int | None
    dataset_label: str  # "tickets v2", or the training file's name
    settings: dict[str, str]  # every setting as the config file shows it
    key_settings: str
    folder: Path
    device: str
    started_at: str
    ended_at: str | None
    duration_s: float
    steps_done: int
    max_steps: int
    peak_memory_bytes: int | None
    memory_kind: str  # cuda, mps or cpu-rss
    best_val_loss: float | None
    best_step: int | None
    final_val_loss: float | None
    final_train_loss: float | None
    note: str
    estimate: RunEstimate | None
    price: HourlyPrice
    evals: list[EvalLink] = field(default_factory=list)
    config_yaml: str = ""

    @property
    def hours(self) -> float:
        return hours_of(self.duration_s)

    @property
    def cost(self) -> float | None:
        return cost_of(self.hours, self.price)

    @property
    def estimated_cost(self) -> float | None:
        return cost_of(self.estimate.hours if self.estimate else None, self.price)

    @property
    def on_gpu(self) -> bool:
        return self.memory_kind in ("cuda", "mps") or "GPU" in self.device

    @property
    def latest_eval(self) -> EvalLink | None:
        return self.evals[-1] if self.evals else None

    @property
    def eval_text(self) -> str:
        return summary_text(self.latest_eval)

    @property
    def status_text(self) -> str:
        return f"{self.status}: {self.reason}" if self.reason else self.status.value

    def as_dict(self) -> dict:
        est = self.estimate
        return {
            "run_id": self.run_id,
            "name": self.name,
            "status": self.status.value,
            "reason": self.reason,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "base_model": self.base_model,
            "method": self.method,
            "dataset_version_id": self.dataset_version_id,
            "dataset": self.dataset_label,
            "key_settings": self.key_settings,
            "device": self.device,
            "duration_s": self.duration_s,
            "steps_done": self.steps_done,
            "max_steps": self.max_steps,
            "gpu_hours": self.hours,
            "peak_memory_bytes": self.peak_memory_bytes,
            "memory_kind": self.memory_kind,
            "estimated_peak_bytes": est.peak_bytes if est else None,
            "estimated_hours": est.hours if est else None,
            "best_val_loss": self.best_val_loss,
            "best_step": self.best_step,
            "final_val_loss": self.final_val_loss,
            "final_train_loss": self.final_train_loss,
            "price_per_hour": self.price.per_hour,
            "price_source": self.price.source,
            "cost": self.cost,
            "estimated_cost": self.estimated_cost,
            "eval": self.latest_eval.metrics if self.latest_eval else None,
            "eval_summary": self.eval_text,
            "note": self.note,
            "folder": str(self.folder),
        }


def _dataset_names(project) -> dict[int, str]:
    try:
        rows = project.connection().execute("SELECT id, dataset, number FROM dataset_versions")
        return {row[0]: f"{row[1]} v{row[2]}" for row in rows}
    except sqlite3.OperationalError:  # the dataset feature is not installed
        return {}


def load_summaries(project, run_ids: list[str] | None = None) -> list[RunSummary]:
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
    runs_dir = project.runs_dir
    summaries = []
    for row in rows:
        folder = runs_dir / row["folder"]
        status = live_state(row["status"], folder)
        reason = row["status_reason"] or (
            INTERRUPTED_REASON if status is RunState.INTERRUPTED else ""
        )
        settings = config_values(row["config_yaml"])
        version_id = row["dataset_version_id"]
        if version_id is not None:
            dataset = names.get(version_id) or row["dataset_version_label"] or f"#{version_id}"
        else:
            dataset = Path(row["train_file"]).name if row["train_file"] else ""
        device = row["device"]
        if device not in prices:
            prices[device] = hourly_price(device, catalog, fallback_price)
        estimate = None
        if row["source"] is not None:
            estimate = RunEstimate(
                row["peak_bytes"], row["hours"], row["gpu"], row["source"], row["problem"]
            )
        summaries.append(
            RunSummary(
                run_id=row["run_id"],
                name=row["name"],
                status=status,
                reason=reason,
                base_model=row["base_model"],
                method=row["method"],
                dataset_version_id=version_id,
                dataset_label=dataset,
                settings=settings,
                key_settings=key_settings_text(settings, row["method"]),
                folder=folder,
                device=device,
                started_at=row["started_at"],
                ended_at=row["ended_at"],
                duration_s=float(row["duration_s"] or 0.0),
                steps_done=row["steps_done"],
                max_steps=row["max_steps"],
                peak_memory_bytes=row["peak_memory_bytes"],
                memory_kind=row["memory_kind"],
                best_val_loss=row["best_val_loss"],
                best_step=row["best_step"],
                final_val_loss=row["final_val_loss"],
                final_train_loss=row["final_train_loss"],
                note=row["note"] or "",
                estimate=estimate,
                price=prices[device],
                evals=evals.get(row["run_id"], []),
                config_yaml=row["config_yaml"],
            )
        )
    return summaries


def load_summary(project, run_id: str) -> RunSummary:
    found = load_summaries(project, [run_id])
    if not found:
        raise RunNotFound(f"No run {run_id!r} in {project.folder}.")
    return found[0]


def resolve_run(project, id_or_name: str) -> RunSummary:
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
