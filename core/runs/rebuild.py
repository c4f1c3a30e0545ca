"""Rebuilding the run index from the run folders, for a project whose database was damaged.

The database is an index; each run folder (runs/<run_id>/) keeps its own record:
config.yaml, run.json, metrics.jsonl, advice.jsonl and final/. So when project.sqlite is
empty or not a database at all (a sync tool, a full disk, a bad copy), `repair_project`
(`finetune-studio project repair DIR`) sets it aside (core.project.recover), never deleting
it, starts a new one and lists the runs again from their folders. Dataset versions,
evaluations and exports live only in the database and are not rebuilt; the notice says so.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from pathlib import Path

import yaml

from core.figures import count_text
from core.json_file import read_json_object
from core.project.recover import ProjectDatabaseError, database_problem, set_aside
from core.project.store import DB_NAME, NotAProjectError, create_project, open_project
from core.runs import record as runs


def _read_yaml(path: Path) -> tuple[str, dict]:
    try:
        text = path.read_text(encoding="utf-8")
        value = yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError, RecursionError):
        return "", {}
    return text, value if isinstance(value, dict) else {}


def _started_at(folder: Path) -> str:
    # Run ids start with their local start time (YYYYmmdd-HHMMSS); else the folder's age.
    try:
        moment = _dt.datetime.strptime(folder.name[:15], "%Y%m%d-%H%M%S").astimezone()
    except ValueError:
        moment = _dt.datetime.fromtimestamp(folder.stat().st_mtime).astimezone()
    return moment.astimezone(_dt.timezone.utc).isoformat(timespec="seconds")


def _finite(values: list) -> list[float]:
    return [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def rebuild_run(project, folder: Path) -> bool:
    """Add one run folder back to the index (with its metrics and advice); False when the
    folder is not a run (no config.yaml and no run.json)."""
    info = read_json_object(folder / runs.RUN_FILE)
    config_yaml, config = _read_yaml(folder / runs.CONFIG_FILE)
    if not info and not config:
        return False
    data = info.get("data") if isinstance(info.get("data"), dict) else {}
    method = str(info.get("method") or config.get("method") or "lora")
    base_model = str(info.get("base_model") or config.get("base_model") or "unknown")
    name = str(config.get("name") or "").strip() or f"{method} {Path(base_model).name}"
    metrics = runs.read_metrics(folder)
    train_losses = _finite([r.loss for r in metrics if r.kind == "train"])
    evals = [(r.eval_loss, r.step) for r in metrics if r.kind == "eval" and r.eval_loss]
    evals = [(loss, step) for loss, step in evals if _finite([loss])]
    best = min(evals) if evals else None
    final = folder / runs.FINAL_DIR
    finished = final.is_dir() and any(final.iterdir())
    key = runs.insert_run_row(
        project,
        folder.name,
        {
            "name": name,
            "status": runs.RunState.FINISHED if finished else runs.RunState.STOPPED,
            "status_reason": "Listed again from its folder after project.sqlite was damaged"
            + ("." if finished else "; how it ended was not recorded there."),
            "base_model": base_model,
            "base_model_path": str(info.get("base_model_path") or ""),
            "method": method,
            "dataset_version_id": None,  # the versions were in the damaged database
            "dataset_version_label": str(data.get("dataset_version_label") or ""),
            "dataset_content_hash": str(data.get("dataset_content_hash") or ""),
            "train_file": str(data.get("train_file") or config.get("train_file") or ""),
            "validation_file": str(data.get("validation_file") or ""),
            "config_yaml": config_yaml,
            "folder": folder.name,
            "device": str(info.get("device") or ""),
            "started_at": _started_at(folder),
            "steps_done": max((r.step for r in metrics), default=0),
            "max_steps": int(info.get("max_steps") or 0),
            "best_val_loss": best[0] if best else None,
            "best_step": best[1] if best else None,
            "final_val_loss": evals[-1][0] if evals else None,
            "final_train_loss": train_losses[-1] if train_losses else None,
            "final_model_dir": runs.FINAL_DIR if finished else "",
        },
    )
    for record in metrics:
        runs.insert_metric_row(project, key, record)
    for advice in runs.read_advice(folder):
        runs.insert_advice_row(project, key, advice)
    return True


def repair_project(folder: str | os.PathLike):
    """Open the project at `folder`; if its database is damaged, keep that file aside (renamed,
    never deleted), start a new one and list the runs again from their folders. The
    returned project's `notice` says what was done."""
    folder = Path(folder).expanduser().resolve()
    db_path = folder / DB_NAME
    if not db_path.is_file():
        raise NotAProjectError(f"{folder} holds no {DB_NAME}: there is no project to repair.")
    try:
        project = open_project(folder)
    except ProjectDatabaseError as error:
        if not error.damaged:
            raise  # locked or read-only: not damage a new database would fix
    else:
        project.notice = f"{db_path} is fine; nothing to repair."
        return project
    problem = database_problem(db_path) or "SQLite could not read it"
    kept = set_aside(db_path)
    project = create_project(folder)
    listed, skipped = [], []
    for run_folder in sorted(project.runs_dir.iterdir()):
        if not run_folder.is_dir() or run_folder.name.startswith("."):
            continue
        try:
            if rebuild_run(project, run_folder):
                listed.append(run_folder.name)
        except Exception as error:  # one unreadable run folder must not hide the others
            skipped.append(f"{run_folder.name} ({type(error).__name__}: {error})")
    project.notice = recovery_notice(db_path, problem, kept, listed)
    if skipped:
        project.notice += " Not listed: " + "; ".join(skipped) + "."
    return project


def recovery_notice(db_path: Path, problem: str, kept: Path, listed: list[str]) -> str:
    return (
        f"{db_path} could not be used ({problem}). It was kept as {kept.name} and a new "
        f"database was started; {count_text(len(listed), 'run')} "
        f"{'was' if len(listed) == 1 else 'were'} listed again from their folders. "
        "Dataset versions, evaluations and exports recorded only in the old database are not "
        "listed; restore project.sqlite from a backup to get them back."
    )
