"""The run record: a run on disk and in the project database; create, record, list, load.

A run is a folder runs/<run_id>/:
    config.yaml        the TrainConfig (re-runnable with `finetune-studio train config.yaml`)
    run.json           what was resolved: device, precision, steps, data stats, versions
    metrics.jsonl      one JSON object per line: step and loss (train) or eval_loss (eval)
    advice.jsonl       the advisor's messages
    train.log          the run log
    checkpoints/checkpoint-<step>/   resumable (model/adapter, optimizer, scheduler, RNG)
    final/             the final adapter (LoRA methods) or full model, with the tokenizer
and a row in training_runs. A run whose row says running but whose folder lock is free
was killed (crash, kill -9, power cut): it is reported as interrupted and can resume.
This is the run record every feature shares: training writes it, evaluation, export and the
Runs page (core.history) read it; core.runs.store holds the user's changes (rename, delete).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from core.file_lock import try_lock, unlock
from core.json_file import read_json_object
from core.methods import ADAPTER_METHODS
from core.project.store import Project, utc_now
from core.recipe.config import load_config
from core.runs.records import (
    ADVICE_FILE,
    METRICS_FILE,
    Advice,
    MetricRecord,
    read_advice_file,
    read_metrics_file,
)

CONFIG_FILE = "config.yaml"
RUN_FILE = "run.json"
LOG_FILE = "train.log"
CHECKPOINTS_DIR = "checkpoints"
FINAL_DIR = "final"
LOCK_FILE = ".lock"
COMPLETE_MARKER = ".complete"
INTERRUPTED_REASON = (
    "The process training it ended without saying (crash, kill or power cut); resume it "
    "from its last checkpoint on the Train page."
)

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


class RunState(str, Enum):
    """A run's status, as training_runs.status and run.json hold it (the values are stored)."""

    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # never stored: a running row whose process is gone

    def __str__(self) -> str:  # f-strings and messages show the stored word on every Python
        return self.value

    # Equal to its stored word, so it must hash like it too (Enum hashes the member's name):
    # a dict keyed by "running" finds RunState.RUNNING.
    __hash__ = str.__hash__


class RunNotFound(LookupError):
    """No run with that id (or name) in the project."""


class RunBusy(RuntimeError):
    """The run is training right now (in this or another process)."""


@dataclass
class RunInfo:
    """One run, as every page and the CLI see it: its row in training_runs.

    list_runs and load_run fill the row's fields; the Runs page's RunSummary
    (core.history.summaries) adds what it shows beside them (note, estimate, price, evaluations).
    """

    run_id: str
    name: str
    status: RunState
    reason: str
    base_model: str
    base_model_path: str
    method: str
    dataset_version_id: int | None
    dataset_version_label: str
    dataset_content_hash: str
    train_file: str
    validation_file: str
    folder: Path
    device: str
    started_at: str
    ended_at: str | None
    duration_s: float
    steps_done: int
    max_steps: int
    peak_memory_bytes: int | None
    memory_kind: str
    best_val_loss: float | None
    best_step: int | None
    final_val_loss: float | None
    final_train_loss: float | None
    tokens_per_second: float | None
    final_model_dir: Path | None
    config_yaml: str = ""

    @property
    def hours(self) -> float:
        return max(0.0, float(self.duration_s or 0.0)) / 3600.0

    @property
    def on_gpu(self) -> bool:
        return self.memory_kind in ("cuda", "mps") or "GPU" in self.device

    @property
    def status_text(self) -> str:
        return f"{self.status}: {self.reason}" if self.reason else self.status.value

    @property
    def is_adapter(self) -> bool:
        return self.method in ADAPTER_METHODS

    @property
    def metrics_path(self) -> Path:
        return self.folder / METRICS_FILE

    @property
    def log_path(self) -> Path:
        return self.folder / LOG_FILE

    @property
    def config_path(self) -> Path:
        return self.folder / CONFIG_FILE

    @property
    def resumable(self) -> bool:
        return self.status in (RunState.INTERRUPTED, RunState.STOPPED, RunState.FAILED) and (
            latest_checkpoint(self.folder) is not None
        )

    def config(self):
        return load_config(self.config_path)


# --- folder lock ----------------------------------------------------------------------


class RunLock:
    """Held by the process training a run; the OS drops it when that process dies."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        self._handle = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 (held open: the lock lives on it)
        if not try_lock(handle.fileno()):
            handle.close()
            raise RunBusy(f"{self.path.parent.name} is being trained by another process.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                unlock(self._handle.fileno())
            self._handle.close()
            self._handle = None


def is_run_active(folder: Path) -> bool:
    path = folder / LOCK_FILE
    if not path.exists():
        return False
    try:
        handle = open(path, "a+")  # noqa: SIM115 (closed in the finally below)
    except OSError:
        return False
    try:
        if not try_lock(handle.fileno()):
            return True
        unlock(handle.fileno())
        return False
    finally:
        handle.close()


# --- checkpoints ----------------------------------------------------------------------


def checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints (trainer state written last), oldest first."""
    root = folder / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _CHECKPOINT.match(child.name)
        if not match or not child.is_dir():
            continue
        state = child / "trainer_state.json"
        try:
            json.loads(state.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # killed while saving: not resumable
        found.append((int(match.group(1)), child))
    return sorted(found)


def latest_checkpoint(folder: Path) -> Path | None:
    found = checkpoints(folder)
    return found[-1][1] if found else None


def best_checkpoint(folder: Path) -> Path | None:
    """The checkpoint with the lowest validation loss, from the trainer's own record."""
    found = checkpoints(folder)
    if not found:
        return None
    try:
        state = json.loads((found[-1][1] / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    best = state.get("best_model_checkpoint")
    if best:
        name = Path(best).name
        for _step, path in found:
            if path.name == name:
                return path
    return None


# --- ids and rows ---------------------------------------------------------------------


def new_run_id(project: Project, method: str) -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{method}"
    candidate, n = base, 2
    while (project.runs_dir / candidate).exists() or _row(project, candidate) is not None:
        candidate = f"{base}-{n}"
        n += 1
    return candidate


def _row(project: Project, run_id: str):
    return (
        project.connection()
        .execute("SELECT * FROM training_runs WHERE run_id = ?", (run_id,))
        .fetchone()
    )


def row_key(project: Project, run_id: str) -> int:
    row = _row(project, run_id)
    if row is None:
        raise RunNotFound(f"No run {run_id!r} in {project.folder}.")
    return int(row["id"])


def insert_run_row(project: Project, run_id: str, values: dict) -> int:
    values = {**values, "run_id": run_id}
    columns = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    with project.transaction() as conn:
        cursor = conn.execute(
            f"INSERT INTO training_runs ({columns}) VALUES ({marks})", tuple(values.values())
        )
        return int(cursor.lastrowid)


def update_run_row(project: Project, run_id: str, **values) -> None:
    if not values:
        return
    assignments = ", ".join(f"{name} = ?" for name in values)
    with project.transaction() as conn:
        conn.execute(
            f"UPDATE training_runs SET {assignments} WHERE run_id = ?",
            (*values.values(), run_id),
        )


def _db_number(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def insert_metric_row(project: Project, key: int, record: MetricRecord) -> None:
    with project.transaction() as conn:
        conn.execute(
            "INSERT INTO training_metrics (run, step, kind, epoch, loss, eval_loss, learning_rate,"
            " grad_norm, tokens_per_second, memory_bytes, record_json)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                record.step,
                record.kind,
                record.epoch,
                _db_number(record.loss),
                _db_number(record.eval_loss),
                _db_number(record.learning_rate),
                _db_number(record.grad_norm),
                record.tokens_per_second,
                record.memory_allocated,
                record.to_json(),
            ),
        )


def insert_advice_row(project: Project, key: int, advice: Advice) -> None:
    with project.transaction() as conn:
        conn.execute(
            "INSERT INTO training_advice (run, step, severity, kind, message, advice_json)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (key, advice.step, advice.severity, advice.kind, advice.message, advice.to_json()),
        )


def forget_after_step(project: Project, key: int, step: int) -> None:
    """On resume from checkpoint `step`, the rows past it are about to be redone."""
    with project.transaction() as conn:
        conn.execute("DELETE FROM training_metrics WHERE run = ? AND step > ?", (key, step))
        conn.execute("DELETE FROM training_advice WHERE run = ? AND step > ?", (key, step))


# --- reading --------------------------------------------------------------------------


def live_state(status: str, folder: Path) -> RunState:
    """The stored status, except that a running row nobody trains any more is interrupted."""
    try:
        state = RunState(status)
    except ValueError:  # a hand-edited database: show the run, as one that did not finish
        return RunState.FAILED
    if state is RunState.RUNNING and not is_run_active(folder):
        return RunState.INTERRUPTED
    return state


def run_from_row(project: Project, row) -> RunInfo:
    """A training_runs row (sqlite3.Row, every column) as a RunInfo."""
    folder = project.runs_dir / row["folder"]
    status = live_state(row["status"], folder)
    final_dir = folder / row["final_model_dir"] if row["final_model_dir"] else None
    return RunInfo(
        run_id=row["run_id"],
        name=row["name"],
        status=status,
        reason=row["status_reason"]
        or (INTERRUPTED_REASON if status is RunState.INTERRUPTED else ""),
        base_model=row["base_model"],
        base_model_path=row["base_model_path"],
        method=row["method"],
        dataset_version_id=row["dataset_version_id"],
        dataset_version_label=row["dataset_version_label"],
        dataset_content_hash=row["dataset_content_hash"],
        train_file=row["train_file"],
        validation_file=row["validation_file"],
        folder=folder,
        device=row["device"],
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
        tokens_per_second=row["tokens_per_second"],
        final_model_dir=final_dir if final_dir and final_dir.is_dir() else None,
        config_yaml=row["config_yaml"],
    )


def list_runs(project: Project) -> list[RunInfo]:
    """Every run of the project, newest first."""
    rows = project.connection().execute(
        "SELECT * FROM training_runs ORDER BY started_at DESC, id DESC"
    )
    return [run_from_row(project, row) for row in rows.fetchall()]


def load_run(project: Project, run_id: str) -> RunInfo:
    row = _row(project, run_id)
    if row is None:
        raise RunNotFound(f"No run {run_id!r} in {project.folder}.")
    return run_from_row(project, row)


def _folder_of(run: RunInfo | str | Path) -> Path:
    return run.folder if isinstance(run, RunInfo) else Path(run)


def read_metrics(run: RunInfo | str | Path) -> list[MetricRecord]:
    """A run's records (from its folder, so a crashed or copied run replays too)."""
    return read_metrics_file(_folder_of(run) / METRICS_FILE)


def read_advice(run: RunInfo | str | Path) -> list[Advice]:
    return read_advice_file(_folder_of(run) / ADVICE_FILE)


def read_run_json(run: RunInfo | str | Path) -> dict:
    return read_json_object(_folder_of(run) / RUN_FILE)


def now() -> str:
    return utc_now()
