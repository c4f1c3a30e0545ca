"""A run's metrics for other tools: CSV for spreadsheets and pandas, and TensorBoard event
files for people who already use TensorBoard (only when it is installed; it is not a
dependency of FineTune Studio)."""

from __future__ import annotations

import csv
import importlib.util
import math
from pathlib import Path

from core.atomic_file import atomic_open
from core.runs.records import read_metrics_file

CSV_COLUMNS = (
    "step",
    "kind",
    "epoch",
    "loss",
    "eval_loss",
    "learning_rate",
    "grad_norm",
    "tokens_per_second",
    "tokens_seen",
    "memory_peak",
    "memory_kind",
    "elapsed_s",
    "time",
)
TENSORBOARD_MISSING = (
    "TensorBoard is not installed in this Python environment, so nothing was written. "
    "Install it (pip install tensorboard) and export again; the CSV export needs nothing."
)


class TensorBoardMissing(RuntimeError):
    pass


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


def write_metrics_csv(metrics_path: str | Path, out: str | Path) -> int:
    """Write every record of a run's metrics.jsonl as a CSV row; returns the row count."""
    records = read_metrics_file(metrics_path)
    with atomic_open(out, "w", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for record in records:
            writer.writerow([_cell(getattr(record, column)) for column in CSV_COLUMNS])
    return len(records)


def tensorboard_available() -> bool:
    """Whether TensorBoard's writer can be used here (the tensorboard package is installed)."""
    try:
        return importlib.util.find_spec("tensorboard") is not None
    except (ImportError, ValueError):
        return False


def write_tensorboard(metrics_path: str | Path, log_dir: str | Path, run_name: str) -> Path:
    """Write a run's losses, learning rate and gradient norm as TensorBoard scalars under
    log_dir/run_name; raises TensorBoardMissing when TensorBoard is not installed."""
    if not tensorboard_available():
        raise TensorBoardMissing(TENSORBOARD_MISSING)
    # torch is heavy (seconds to import): loaded when a model is
    from torch.utils.tensorboard import SummaryWriter

    target = Path(log_dir) / run_name
    writer = SummaryWriter(log_dir=str(target))
    try:
        for record in read_metrics_file(metrics_path):
            for tag, value in (
                ("train/loss", record.loss if record.kind == "train" else None),
                ("eval/loss", record.eval_loss if record.kind == "eval" else None),
                ("train/learning_rate", record.learning_rate),
                ("train/grad_norm", record.grad_norm),
            ):
                if value is not None and math.isfinite(value):
                    writer.add_scalar(tag, value, record.step)
    finally:
        writer.close()
    return target
