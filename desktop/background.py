"""Run a slow core function off the GUI thread, with progress and cancel.

The function receives `report(fraction, message)` and `cancelled() -> bool`; the task
emits `progress`, then `succeeded(result)` or `failed(message)`, always on the GUI thread.
This is the one way the app hosts work on a QThread. A job with signals of its own (the
chat's streamed text, a training run's metrics) emits them from its function: a signal
emitted on the worker thread reaches the GUI thread's slots queued. A job that pauses or
stops in its own way (a training run) is controlled through its own thread-safe object,
which the function closes over (desktop/training/host.py).
"""

from __future__ import annotations

import threading
import traceback
import weakref
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from desktop import gui_garbage


class TaskFailed(Exception):
    """Raised by a task's function when its message already says what went wrong: it is
    shown as it is, without the exception's type in front."""


class _Worker(QObject):
    progress = Signal(float, str)
    succeeded = Signal(object)
    failed = Signal(str)
    done = Signal()

    def __init__(self, function: Callable[..., Any], cancel_event: threading.Event) -> None:
        super().__init__()
        self._function = function
        self._cancel = cancel_event

    @Slot()
    def run(self) -> None:
        try:
            result = self._function(self.progress.emit, self._cancel.is_set)
        except TaskFailed as error:
            traceback.print_exc()
            self.failed.emit(str(error))
        # BaseException too (a SystemExit in a library): escaping this slot, it left the
        # thread running for good, and closing the window then waited on it forever.
        except BaseException as error:  # shown to the user, never swallowed
            traceback.print_exc()
            self.failed.emit(
                f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            )
        else:
            self.succeeded.emit(result)
        finally:
            self.done.emit()


# The tasks started so far, for tasks_running(); weak, so a task goes with its parent.
_started: weakref.WeakSet[BackgroundTask] = weakref.WeakSet()


def tasks_running() -> int:
    """How many tasks' threads run now: `finetune-studio screenshot` waits for none."""
    return sum(1 for task in list(_started) if task.is_running())


class BackgroundTask(QObject):
    progress = Signal(float, str)
    succeeded = Signal(object)
    failed = Signal(str)
    finished = Signal()

    def __init__(
        self, function: Callable[..., Any], parent: QObject | None = None, name: str = ""
    ) -> None:
        super().__init__(parent)
        self._cancel = threading.Event()
        self._thread = QThread()
        if name:  # shown by debuggers and in crash reports
            self._thread.setObjectName(name)
        self._worker = _Worker(function, self._cancel)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self.progress)
        self._worker.succeeded.connect(self.succeeded)
        self._worker.failed.connect(self.failed)
        # Direct: quit() is thread-safe, and a queued call would wait for the GUI thread,
        # which deadlocks a GUI-thread wait() until its timeout.
        self._worker.done.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        # No worker.deleteLater on finished: that delete runs as the worker thread exits and
        # needs the GIL inside ~QObject while the GUI thread, holding the GIL, may be
        # destroying a widget connected to it (a deadlock seen in a test run). The worker
        # goes with this task, on the GUI thread.
        self._thread.finished.connect(self.finished)

    def start(self) -> None:
        # Closed pages' and dialogs' Qt objects are freed on the GUI thread, never by a
        # gc.collect() the work makes on its thread (a segfault: desktop/gui_garbage.py).
        gui_garbage.thread_starting(self._thread)
        _started.add(self)
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, timeout_ms: int = 30_000) -> bool:
        return self._thread.wait(timeout_ms)
