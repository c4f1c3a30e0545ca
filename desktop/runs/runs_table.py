"""The Runs table: a QAbstractTableModel over run summaries, and the sort/filter proxy.

Name and Note are edited in place; the edit goes through `edit_requested` so the page
can apply it as an undoable command (the model never writes to the database itself).
"""

from __future__ import annotations

import math

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor

from core.figures import (
    bytes_text,
    duration_text,
    hours_text,
    loss_text,
    money_text,
    when_text,
)
from core.methods import METHOD_NAMES
from core.runs.record import RunInfo, RunState
from desktop.theme import ACTIVE, BAD, GOOD, MUTED, WARNING, status_color

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 2

# (key, header, tooltip)
COLUMNS = (
    ("name", "Name", "The run's name; double-click or F2 to rename"),
    ("started", "When", "When the run started (UTC)"),
    ("status", "Status", "running, finished, stopped, failed or interrupted, and why"),
    # The stage (SFT, SFT+DPO, SFT+GRPO) tells runs apart first: seen without scrolling.
    (
        "method",
        "Method",
        f"The fine-tuning method ({', '.join(METHOD_NAMES)}) and, past SFT, the stage: DPO or "
        "GRPO, SFT+DPO or SFT+GRPO when it continued a finished run, SFT (continued) for SFT "
        "that continued a finished run's adapter",
    ),
    ("dataset", "Data", "The dataset version (or training file) it trained on"),
    ("best_val", "Best val loss", "Lowest validation loss (at which step in the tooltip)"),
    ("final_val", "Final val loss", "Validation loss at the end of training"),
    ("eval", "Eval results", "The latest evaluation of the run (Evaluate page)"),
    ("cost", "Cost", "GPU hours x the GPU's price per hour"),
    ("estimated_cost", "Est. cost", "The estimated hours x the same price"),
    ("hours", "GPU hours", "Hours the run held its hardware (CPU runs say so)"),
    ("duration", "Duration", "Training time, pauses excluded"),
    ("peak", "Peak memory", "Measured peak: GPU memory on CUDA/MPS, process memory on the CPU"),
    ("estimated_peak", "Est. memory", "The estimator's peak-memory prediction for these settings"),
    ("base_model", "Base model", "The model that was fine-tuned"),
    ("settings", "Settings", "The settings that tell runs apart"),
    ("note", "Note", "Your note on the run; double-click to edit"),
)

KEYS = [key for key, _, _ in COLUMNS]
EDITABLE = ("name", "note")
STATUS_KINDS = {
    RunState.RUNNING: ACTIVE,
    RunState.FINISHED: GOOD,
    RunState.STOPPED: WARNING,
    RunState.FAILED: BAD,
    RunState.INTERRUPTED: WARNING,
}


def column(key: str) -> int:
    return KEYS.index(key)


def _number(value) -> float:
    """Sort key for an optional number: missing values sort last in ascending order."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.inf
    return float(value)


class RunsTableModel(QAbstractTableModel):
    # (run_id, "name" or "note", new text): the page turns it into an undoable edit.
    edit_requested = Signal(str, str, str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._runs: list[RunInfo] = []

    # --- contents -------------------------------------------------------------------
    def set_summaries(self, summaries: list[RunInfo]) -> None:
        """Show these runs. The same runs again (a live refresh, estimates filled in) update
        in place, so the user's scroll position, sort and open editor are kept."""
        same_runs = [s.run_id for s in summaries] == [s.run_id for s in self._runs]
        if same_runs and self._runs:
            self._runs = list(summaries)
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._runs) - 1, len(COLUMNS) - 1)
            )
            return
        self.beginResetModel()
        self._runs = list(summaries)
        self.endResetModel()

    def summaries(self) -> list[RunInfo]:
        return list(self._runs)

    def summary_at(self, row: int) -> RunInfo:
        return self._runs[row]

    def row_of(self, run_id: str) -> int | None:
        for row, summary in enumerate(self._runs):
            if summary.run_id == run_id:
                return row
        return None

    def replace_summary(self, summary: RunInfo) -> None:
        row = self.row_of(summary.run_id)
        if row is None:
            return
        self._runs[row] = summary
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    # --- Qt model API -----------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._runs)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][1]
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMNS[section][2]
        return None

    def flags(self, index):
        base = super().flags(index)
        if index.isValid() and KEYS[index.column()] in EDITABLE:
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        run = self._runs[index.row()]
        key = KEYS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(run, key)
        if role == Qt.ItemDataRole.EditRole:
            return run.name if key == "name" else run.note if key == "note" else None
        if role == SORT_ROLE:
            return self._sort_value(run, key)
        if role == RUN_ID_ROLE:
            return run.run_id
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(run, key)
        if role == Qt.ItemDataRole.ForegroundRole and key == "status":
            return QColor(status_color(STATUS_KINDS.get(run.status, MUTED)))
        if role == Qt.ItemDataRole.TextAlignmentRole and key in (
            "duration",
            "hours",
            "peak",
            "estimated_peak",
            "best_val",
            "final_val",
            "cost",
            "estimated_cost",
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        key = KEYS[index.column()]
        if key not in EDITABLE:
            return False
        run = self._runs[index.row()]
        text = str(value)
        current = run.name if key == "name" else run.note
        if text.strip() == current:
            return False
        if key == "name" and not text.strip():
            return False
        self.edit_requested.emit(run.run_id, key, text)
        return True

    # --- cells ------------------------------------------------------------------------
    @staticmethod
    def _display(run: RunInfo, key: str) -> str:
        if key == "name":
            return run.name
        if key == "started":
            return when_text(run.started_at)
        if key == "status":
            if run.status == RunState.RUNNING and run.max_steps:
                return f"running {run.steps_done}/{run.max_steps}"
            first = run.reason.split(". ")[0].rstrip(".") if run.reason else ""
            if run.status == RunState.FAILED and first:
                return f"failed: {first[:60]}"
            return run.status.value
        if key == "base_model":
            return run.base_model
        if key == "method":
            return run.method if run.stage_label == "SFT" else f"{run.method}, {run.stage_label}"
        if key == "dataset":
            return run.dataset_label or "—"
        if key == "settings":
            return run.key_settings
        if key == "duration":
            return duration_text(run.duration_s)
        if key == "hours":
            text = hours_text(run.hours)
            return text if run.on_gpu else f"{text} (CPU)"
        if key == "peak":
            return bytes_text(run.peak_memory_bytes)
        if key == "estimated_peak":
            return bytes_text(run.estimate.peak_bytes if run.estimate else None)
        if key == "best_val":
            return loss_text(run.best_val_loss)
        if key == "final_val":
            return loss_text(run.final_val_loss)
        if key == "eval":
            return run.eval_text or "—"
        if key == "cost":
            return money_text(run.cost)
        if key == "estimated_cost":
            return money_text(run.estimated_cost)
        if key == "note":
            return run.note
        return ""

    @staticmethod
    def _sort_value(run: RunInfo, key: str):
        numbers = {
            "duration": run.duration_s,
            "hours": run.hours,
            "peak": run.peak_memory_bytes,
            "estimated_peak": run.estimate.peak_bytes if run.estimate else None,
            "best_val": run.best_val_loss,
            "final_val": run.final_val_loss,
            "cost": run.cost,
            "estimated_cost": run.estimated_cost,
        }
        if key in numbers:
            return _number(numbers[key])
        if key == "started":
            return run.started_at
        if key == "eval":
            link = run.latest_eval
            value = None
            if link is not None:
                value = link.metrics.get("accuracy")
                if value is None:
                    value = link.metrics.get("format_compliance")
            return -_number(value) if value is not None else math.inf
        return RunsTableModel._display(run, key).lower()

    @staticmethod
    def _tooltip(run: RunInfo, key: str) -> str:
        if key == "name":
            return f"{run.run_id}\n{run.folder}"
        if key == "status":
            return run.status_text
        if key == "settings":
            return "\n".join(f"{k}: {v}" for k, v in sorted(run.settings.items()))
        if key == "hours":
            return f"{run.device}\n{duration_text(run.duration_s)} of training"
        if key == "peak":
            kind = {"cpu-rss": "process memory on the CPU", "cuda": "CUDA", "mps": "Apple MPS"}
            return f"Measured: {kind.get(run.memory_kind, run.memory_kind or 'not measured')}"
        if key == "estimated_peak":
            est = run.estimate
            if est is None:
                return "Not estimated yet"
            return est.problem or f"From the {est.source}" + (f" for {est.gpu}" if est.gpu else "")
        if key == "best_val":
            return f"at step {run.best_step}" if run.best_step is not None else "no validation"
        if key in ("cost", "estimated_cost"):
            if run.price.per_hour is None:
                return (
                    f"No price for {run.price.hardware}: set a price per hour on the Spend tab "
                    "(or the GPU's price on the Estimate page)."
                )
            hours = run.hours if key == "cost" else (run.estimate.hours if run.estimate else None)
            if hours is None:
                return "No time estimate for this hardware"
            return (
                f"{hours:.4f} h x {money_text(run.price.per_hour)}/h ({run.price.source}) = "
                f"{money_text(hours * run.price.per_hour)}"
            )
        if key == "eval":
            link = run.latest_eval
            if link is None:
                return "Not evaluated: evaluate it on the Evaluate page"
            return f"{link.label} on '{link.eval_set_name}' ({when_text(link.created_at)})"
        if key == "note":
            return run.note or "Double-click to add a note"
        return None


class RunsFilterModel(QSortFilterProxyModel):
    """Sorts on the raw values and keeps rows matching the text and the chosen status."""

    SEARCHED = ("name", "base_model", "method", "dataset", "settings", "note", "status", "eval")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self._text = ""
        self._status = ""

    # invalidate(), not invalidateFilter(): the latter is deprecated from Qt 6.10 and its
    # replacement (begin/endFilterChange) is missing before 6.9; re-sorting too is cheap.
    def set_text(self, text: str) -> None:
        self._text = text.strip().lower()
        self.invalidate()

    def set_status(self, status: str) -> None:
        self._status = status
        self.invalidate()

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:
        model: RunsTableModel = self.sourceModel()
        run = model.summary_at(source_row)
        if self._status and run.status != self._status:
            return False
        if not self._text:
            return True
        haystack = " ".join(
            [run.run_id] + [RunsTableModel._display(run, key) for key in self.SEARCHED]
        ).lower()
        return all(word in haystack for word in self._text.split())
