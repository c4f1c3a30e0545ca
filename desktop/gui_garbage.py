"""Python's cycle collector frees objects on the GUI thread only while the app hosts work
on threads.

A closed page, dialog or chart is often held only by reference cycles (signal connections
to bound methods, pyqtgraph's items pointing at each other), so the cycle collector frees
it, on whichever thread runs the collection. Run on a worker thread (a training run calls
gc.collect() in accelerate's free_memory and in free_accelerator_memory; any allocation
may start an automatic collection), it destroys the GUI thread's Qt objects there while
the GUI thread uses Qt, and the app segfaults: seen in tests/test_training_page_run.py, a
training thread inside accelerate's release_memory destroying a closed page's charts.

So, while a task (desktop/background.py) runs:
- a collection asked for on another thread (an explicit gc.collect(), in the task or in
  any other thread) first freezes every object (gc.freeze(): the permanent generation,
  which the collector skips), so it frees nothing there; a timer on the GUI thread
  unfreezes them and collects at its next check, or when the last task has ended. A
  training thread's gc.collect() before emptying the CUDA cache thus frees its cycles a
  moment later, on the GUI thread, and the cache keeps their memory for this process;
- while a task runs, automatic collection is off and that timer collects by generation
  instead, as the interpreter would (the idea of pyqtgraph's GarbageCollector); when the
  last task has ended it is on again, so work without threads collects as usual.
A full collection costs about a quarter of a second once torch and transformers are loaded,
so the GUI thread makes one only where another thread asked for it.
"""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, QTimer, Slot

from core.training.device import give_back_freed_ram

# Milliseconds between the GUI thread's checks.
CHECK_MS = 500

_installed: list[QObject] = []  # the GUI thread's timer and the threads' ends' receiver
_gui_thread_id: int | None = None
_tasks_running = 0
_disabled_automatic = False  # automatic collection was on when the first task started


def _defer_other_threads_collections(phase: str, _info: dict) -> None:
    # Called by the collector, on the collecting thread, before it looks at any object.
    if phase == "start" and _tasks_running and threading.get_ident() != _gui_thread_id:
        gc.freeze()


def _collect_deferred() -> bool:
    if not gc.get_freeze_count():
        return False
    gc.unfreeze()  # what another thread asked to collect
    gc.collect()
    give_back_freed_ram()  # what the other thread's free_accelerator_memory meant to do
    return True


def _check() -> None:
    if _collect_deferred():
        return
    if not gc.isenabled():  # a task runs: the collections the interpreter would make
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
            if thresholds[generation] and counts[generation] > thresholds[generation]:
                gc.collect(generation)
                break


class _Ends(QObject):
    """Receives the tasks' threads' ends on the GUI thread (the task itself may be gone)."""

    @Slot()
    def thread_finished(self) -> None:
        global _tasks_running, _disabled_automatic
        _tasks_running = max(0, _tasks_running - 1)
        if _tasks_running == 0:
            _collect_deferred()
            if _disabled_automatic:
                _disabled_automatic = False
                gc.enable()


def _on_gui_thread() -> bool:
    app = QCoreApplication.instance()
    return app is not None and QThread.currentThread() == app.thread()


def thread_starting(thread: QThread) -> bool:
    """`thread` is about to start: until it has finished, a collection it (or any other
    thread) asks for frees nothing there, and automatic collection is the GUI thread's.

    Call it on the GUI thread; False (nothing done) where there is no application or this
    is not its thread."""
    global _gui_thread_id, _tasks_running, _disabled_automatic
    if not _on_gui_thread():
        return False
    app = QCoreApplication.instance()
    if not _installed:
        _gui_thread_id = threading.get_ident()
        timer = QTimer(app)
        timer.timeout.connect(_check)
        timer.start(CHECK_MS)
        _installed.extend([timer, _Ends(app)])
        gc.callbacks.append(_defer_other_threads_collections)
    # Queued: delivered on the GUI thread, to a receiver that outlives the task.
    thread.finished.connect(_installed[1].thread_finished, Qt.ConnectionType.QueuedConnection)
    if _tasks_running == 0 and gc.isenabled():
        gc.disable()
        _disabled_automatic = True
    _tasks_running += 1
    return True
