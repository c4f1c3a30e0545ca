"""Hosts one training run on the app's one worker-thread pattern, a BackgroundTask
(desktop/background.py), whose function runs the TrainingSession.

    host = TrainingHost(parent)
    host.metrics.connect(...); host.finished.connect(...)
    host.start(project, config)         # returns at once
    host.pause(); host.resume(); host.stop()
    host.shutdown(timeout_s)            # stop and wait, keeping the GUI responsive

The session reports through its observer (desktop/training/bridge.py), whose signals are
emitted on the training thread and reach this host queued, as a task's own signals do.
Control calls go straight to the session (its stop/pause/resume are thread-safe): the
task's thread is busy inside session.run(), so a queued slot there would never run.
"""

from __future__ import annotations

import os
import sys
import threading

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal, Slot

from core.recipe.config import TrainConfig
from core.training.observer import FAILED, RunResult
from core.training.session import TrainingSession
from desktop.background import BackgroundTask
from desktop.training.bridge import TrainingSignals

# How much nicer than the GUI the training thread runs (Linux). Under CPU contention the
# kernel then wakes the GUI thread first, and torch's worker threads, created by the
# training thread, inherit the same niceness. With nothing else running it costs nothing.
TRAINING_NICENESS = 10
SEE_TERMINAL = "see the terminal for the traceback."


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


class TrainingHost(QObject):
    """One run at a time; re-emits the session's events on the GUI thread."""

    status = Signal(str, str)
    metrics = Signal(object)
    progress = Signal(object)
    advice = Signal(object)
    log = Signal(str)
    checkpoint = Signal(int, str)
    finished = Signal(object)  # RunResult (a failed one if the session crashed)
    thread_finished = Signal()  # the run's thread has ended: safe to start another run

    def __init__(self, parent: QObject | None = None, niceness: int = TRAINING_NICENESS) -> None:
        super().__init__(parent)
        self.niceness = niceness
        self._task: BackgroundTask | None = None
        self._signals: TrainingSignals | None = None
        # Kept after the task ends: the last run's id, folder, state and result.
        self._session: TrainingSession | None = None
        self._result_seen = False

    # --- state ----------------------------------------------------------------------
    @property
    def session(self) -> TrainingSession | None:
        """The current or last run's session (its run_id, folder, state, result)."""
        return self._session

    def is_running(self) -> bool:
        return self._task is not None and self._task.is_running()

    def is_busy(self) -> bool:
        """A run was started and its thread has not finished yet."""
        return self._task is not None

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
        # Built here, on the GUI thread, so stop() works even before the thread starts.
        session = TrainingSession(project, config, signals, resume_run=resume_run)
        niceness = self.niceness

        def train(_report, _cancelled) -> RunResult:
            lower_this_thread_priority(niceness)
            return session.run()  # stop/pause reach the session directly, not `cancelled`

        task = BackgroundTask(train, self, name="finetune-studio-training")
        task.succeeded.connect(self._on_done)
        task.failed.connect(self._on_crash)
        task.finished.connect(self._on_thread_finished)
        self._task, self._signals, self._session = task, signals, session
        self._result_seen = False
        task.start()

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

    # --- endings: the observer's result first; the task's own ending covers a crash ------
    @Slot(object)
    def _on_result(self, result: RunResult) -> None:
        self._result_seen = True
        self.finished.emit(result)

    @Slot(object)
    def _on_done(self, result: RunResult | None) -> None:
        if not self._result_seen:  # the session ended without telling its observer (a bug)
            self._end_as_crashed(result)

    @Slot(str)
    def _on_crash(self, message: str) -> None:
        if not self._result_seen:  # run() catches failures itself; this is a bug of ours
            self._end_as_crashed(None, f" ({message})")

    def _end_as_crashed(self, result: RunResult | None, what: str = "") -> None:
        """End the run as failed although its session did not say how it ended."""
        self._result_seen = True
        if result is None:
            result = RunResult(
                run_id=(self._session.run_id or "") if self._session else "",
                folder=None,
                status=FAILED,
                reason=f"The training thread crashed{what}; {SEE_TERMINAL}",
            )
        self.finished.emit(result)

    @Slot()
    def _on_thread_finished(self) -> None:
        if not self._result_seen:  # the thread ended with neither result nor error
            self._end_as_crashed(None)
        # The ended task stays a child of this host, as every BackgroundTask stays with its
        # owner: deleting it here could destroy its QThread while that is still exiting.
        self._task = self._signals = None
        self.thread_finished.emit()
