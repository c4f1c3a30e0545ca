"""Hosts one training run on a QThread: a worker QObject owns the TrainingSession.

    host = TrainingHost(parent)
    host.metrics.connect(...); host.finished.connect(...)
    host.start(project, config)         # returns at once
    host.pause(); host.resume(); host.stop()
    host.shutdown(timeout_s)            # stop and wait, keeping the GUI responsive

Control calls go straight to the session (its stop/pause/resume are thread-safe): the
worker's thread is busy inside session.run(), so a queued slot there would never run.
The wiring follows Qt's worker pattern: worker.done -> thread.quit; thread.finished ->
worker.deleteLater and thread.deleteLater.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback

import shiboken6
from PySide6.QtCore import (
    QCoreApplication,
    QEventLoop,
    QObject,
    Qt,
    QThread,
    QTimer,
    Signal,
    Slot,
)

from core.recipe.config import TrainConfig
from core.training.observer import FAILED, RunResult
from core.training.session import TrainingSession
from desktop.training.bridge import TrainingSignals

# How much nicer than the GUI the training thread runs (Linux). Under CPU contention the
# kernel then wakes the GUI thread first, and torch's worker threads, created by the
# training thread, inherit the same niceness. With nothing else running it costs nothing.
TRAINING_NICENESS = 10


def lower_this_thread_priority(niceness: int) -> bool:
    """Make the calling thread `niceness` steps nicer (Linux: niceness is per thread)."""
    if niceness <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, current + niceness))
    except OSError:
        return False
    return True


class TrainingWorker(QObject):
    """Runs one TrainingSession on the thread it was moved to."""

    done = Signal(object)  # RunResult, or None if the session itself crashed

    def __init__(
        self,
        project,
        config: TrainConfig | None,
        signals: TrainingSignals,
        resume_run=None,
        niceness: int = TRAINING_NICENESS,
    ) -> None:
        super().__init__()
        # Built here, on the GUI thread, so stop() works even before the thread starts.
        self.session = TrainingSession(project, config, signals, resume_run=resume_run)
        self.niceness = niceness

    @Slot()
    def run(self) -> None:
        result = None
        try:
            lower_this_thread_priority(self.niceness)
            result = self.session.run()
        except BaseException:  # run() catches failures itself; this is a bug of ours
            traceback.print_exc()
        finally:
            # Hand this object back to the GUI thread, so its deleteLater (wired to the
            # thread's finished) runs there rather than in a thread that is shutting down.
            app = QCoreApplication.instance()
            if app is not None:
                self.moveToThread(app.thread())
            self.done.emit(result)


class TrainingHost(QObject):
    """One run at a time; re-emits the session's events on the GUI thread."""

    status = Signal(str, str)
    metrics = Signal(object)
    progress = Signal(object)
    advice = Signal(object)
    log = Signal(str)
    checkpoint = Signal(int, str)
    finished = Signal(object)  # RunResult (a failed one if the session crashed)
    thread_finished = Signal()  # the QThread has ended: safe to start another run

    def __init__(self, parent: QObject | None = None, niceness: int = TRAINING_NICENESS) -> None:
        super().__init__(parent)
        self.niceness = niceness
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._signals: TrainingSignals | None = None
        # Kept apart from the worker: the worker's C++ half is deleted when its thread ends.
        self._session: TrainingSession | None = None
        self._result_seen = False

    # --- state ----------------------------------------------------------------------
    @property
    def session(self) -> TrainingSession | None:
        """The current or last run's session (its run_id, folder, state, result)."""
        return self._session

    def is_running(self) -> bool:
        thread = self._thread
        return thread is not None and shiboken6.isValid(thread) and thread.isRunning()

    def is_busy(self) -> bool:
        """A run was started and its thread has not finished yet."""
        return self._thread is not None

    # --- control --------------------------------------------------------------------
    def start(self, project, config: TrainConfig | None, resume_run: str | None = None) -> None:
        if self.is_busy():
            raise RuntimeError("A run is already going; stop it first.")
        signals = TrainingSignals()
        queued = Qt.ConnectionType.QueuedConnection
        signals.status.connect(self.status, queued)
        signals.metrics.connect(self.metrics, queued)
        signals.progress.connect(self.progress, queued)
        signals.advice.connect(self.advice, queued)
        signals.log.connect(self.log, queued)
        signals.checkpoint.connect(self.checkpoint, queued)
        signals.finished.connect(self._on_result, queued)

        thread = QThread(self)
        thread.setObjectName("finetune-studio-training")
        worker = TrainingWorker(project, config, signals, resume_run, self.niceness)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.done.connect(thread.quit)
        worker.done.connect(self._on_done, queued)
        thread.finished.connect(worker.deleteLater)
        thread.finished.connect(thread.deleteLater)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker, self._signals = thread, worker, signals
        self._session = worker.session
        self._result_seen = False
        thread.start()

    def stop(self, reason: str = "Stopped by the user.") -> None:
        if self.session is not None:
            self.session.stop(reason)

    def pause(self) -> None:
        if self.session is not None:
            self.session.pause()

    def resume(self) -> None:
        if self.session is not None:
            self.session.resume()

    def wait_finished(self, timeout_s: float) -> bool:
        """Wait for the thread to end while the GUI keeps processing events."""
        if not self.is_busy():
            return True
        loop = QEventLoop()
        # Owned by the loop, so no timer outlives it (a pending singleShot calling into a
        # deleted loop crashes the app).
        deadline = QTimer(loop)
        deadline.setSingleShot(True)
        deadline.timeout.connect(loop.quit)
        # thread_finished is emitted on this (the GUI) thread, so it cannot slip by
        # between the is_busy() check above and exec() below.
        self.thread_finished.connect(loop.quit)
        try:
            deadline.start(max(1, int(timeout_s * 1000)))
            loop.exec()
        finally:
            deadline.stop()
            self.thread_finished.disconnect(loop.quit)
        return not self.is_busy()

    def shutdown(
        self, timeout_s: float = 300.0, reason: str = "Stopped: the window closed."
    ) -> bool:
        """Stop the run (it saves a checkpoint) and wait for its thread; True once ended."""
        if not self.is_busy():
            return True
        self.stop(reason)
        return self.wait_finished(timeout_s)

    # --- endings --------------------------------------------------------------------
    @Slot(object)
    def _on_result(self, result: RunResult) -> None:
        self._result_seen = True
        self.finished.emit(result)

    @Slot(object)
    def _on_done(self, result: RunResult | None) -> None:
        if self._result_seen:
            return
        # The session ended without telling its observer (a bug): still end the run here.
        self._result_seen = True
        if result is None:
            result = RunResult(
                run_id=(self._session.run_id or "") if self._session else "",
                folder=None,
                status=FAILED,
                reason="The training thread crashed; see the terminal for the traceback.",
            )
        self.finished.emit(result)

    @Slot()
    def _on_thread_finished(self) -> None:
        self._thread = None
        self._worker = None
        self._signals = None
        self.thread_finished.emit()
