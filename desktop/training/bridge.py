"""The Qt side of core.training's observer: every callback re-emitted as a queued signal.

The training thread calls these methods; emitting a signal whose receivers live on the
GUI thread posts an event instead of calling them, so widgets are only ever touched on
the GUI thread. Nothing here blocks the training thread.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from core.runs.records import Advice, MetricRecord
from core.training.observer import Progress, RunResult, TrainingObserver


class TrainingSignals(QObject, TrainingObserver):
    """A TrainingObserver whose methods emit signals; connect with Qt.QueuedConnection."""

    status = Signal(str, str)  # state, message
    metrics = Signal(object)  # MetricRecord
    progress = Signal(object)  # Progress
    advice = Signal(object)  # Advice
    log = Signal(str)
    checkpoint = Signal(int, str)  # step, folder
    finished = Signal(object)  # RunResult

    def on_status(self, state: str, message: str) -> None:
        self.status.emit(state, message)

    def on_metrics(self, record: MetricRecord) -> None:
        self.metrics.emit(record)

    def on_progress(self, progress: Progress) -> None:
        self.progress.emit(progress)

    def on_advice(self, advice: Advice) -> None:
        self.advice.emit(advice)

    def on_log(self, line: str) -> None:
        self.log.emit(line)

    def on_checkpoint(self, step: int, path: Path) -> None:
        self.checkpoint.emit(step, str(path))

    def on_finished(self, result: RunResult) -> None:
        self.finished.emit(result)
