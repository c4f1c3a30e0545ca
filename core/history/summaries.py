"""One run per row for the Runs table and `runs list`: what, when, how, how well, what it cost.

Everything comes from a few SQL queries over the training, evaluation, dataset and runs
tables (no run folder is read, only each final model folder's existence checked), so 200
runs load in milliseconds; loss curves are read separately, only for the runs a user
selects (core.runs.curves). Each run is a RunSummary: the run record (core.runs.record.RunInfo)
with the Runs page's fields beside it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from core.history.config_text import config_values, key_settings_text
from core.history.estimates import RunEstimate
from core.history.evals import EvalLink, evals_by_run, summary_text
from core.history.pricing import HourlyPrice, cost_of, gpu_catalog_or_none, hourly_price
from core.history.spend_settings import project_price
from core.runs.record import RunInfo, RunNotFound, run_from_row

_SUMMARY_SQL = """
SELECT r.*, n.note, e.peak_bytes, e.hours, e.gpu, e.source, e.problem
FROM training_runs r
LEFT JOIN runs_notes n ON n.run_id = r.run_id
LEFT JOIN runs_estimates e ON e.run_id = r.run_id
{where}
ORDER BY r.started_at DESC, r.id DESC
"""


@dataclass
class RunSummary(RunInfo):
    """A run as the Runs page and `runs list` show it: the record, and beside it the data's
    name, the settings, the user's note, the estimate, the price and the evaluations."""

    dataset_label: str = ""  # "tickets v2", or the training file's name
    settings: dict[str, str] = field(default_factory=dict)  # as the config file shows them
    key_settings: str = ""
    note: str = ""
    estimate: RunEstimate | None = None
    price: HourlyPrice | None = None
    evals: list[EvalLink] = field(default_factory=list)

    @property
    def cost(self) -> float | None:
        return cost_of(self.hours, self.price)

    @property
    def estimated_cost(self) -> float | None:
        return cost_of(self.estimate.hours if self.estimate else None, self.price)

    @property
    def latest_eval(self) -> EvalLink | None:
        return self.evals[-1] if self.evals else None

    @property
    def eval_text(self) -> str:
        return summary_text(self.latest_eval)

    @property
    def stage_label(self) -> str:
        """SFT, DPO or GRPO; "SFT+GRPO" for a stage that continued a finished run, and
        "SFT (continued)" for SFT on more data that continued a finished run's adapter
        (the Runs page compares these side by side)."""
        stage = str(self.settings.get("stage") or "sft").upper()
        if not str(self.settings.get("start_from") or "").strip():
            return stage
        return "SFT (continued)" if stage == "SFT" else f"SFT+{stage}"

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
            "stage": self.stage_label,
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
            "price_per_hour": self.price.per_hour if self.price else None,
            "price_source": self.price.source if self.price else "",
            "cost": self.cost,
            "estimated_cost": self.estimated_cost,
            "eval": self.latest_eval.metrics if self.latest_eval else None,
            "eval_summary": self.eval_text,
            "note": self.note,
            "folder": str(self.folder),
        }


_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(RunInfo))


def _dataset_names(project) -> dict[int, str]:
    rows = project.connection().execute("SELECT id, dataset, number FROM dataset_versions")
    return {row[0]: f"{row[1]} v{row[2]}" for row in rows}


def load_summaries(project, run_ids: list[str] | None = None) -> list[RunSummary]:
    """Every run of the project (or those of `run_ids`), newest first."""
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
            RunSummary(
                **{name: getattr(run, name) for name in _RECORD_FIELDS},
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
