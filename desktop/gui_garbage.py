"""Python's cycle collector frees objects on the GUI thread only, once the app hosts work
on threads.

A closed page, dialog or chart is often held only by reference cycles (signal connections
to bound methods, pyqtgraph's items pointing at each other), so the cycle collector frees
it, on whichever thread runs the collection. Run on a worker thread (a training run calls
gc.collect() in accelerate's free_memory and in free_accelerator_memory; any allocation
may start an automatic collection), it destroys the GUI thread's Qt objects there while
the GUI thread uses Qt, and the app segfaults: seen in tests/test_training_page_run.py, a
training thread inside accelerate's release_memory collecting the previous page's charts,
context and run signals while the GUI thread ran its event loop.

So, once installed (before the first task's thread starts):
- automatic collection is off; a timer on the GUI thread collects by generation instead
  (pyqtgraph's GarbageCollector, made for this);
- a collection asked for on another thread (an explicit gc.collect()) first freezes every
  object (gc.freeze(): the permanent generation, which the collector skips), so it frees
  nothing there; the GUI thread's timer unfreezes them and collects at its next check. A
  training thread's gc.collect() before emptying the CUDA cache thus frees its cycles a
  moment later, on the GUI thread, and the cache keeps their memory for this process.
A full collection costs about a quarter of a second once torch and transformers are loaded,
so the GUI thread makes one only where another thread asked for it.
"""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QCoreApplication, QThread, QTimer

from core.training.device import give_back_freed_ram

# Milliseconds between the GUI thread's checks for a deferred collection.
DEFERRED_CHECK_MS = 500
# Seconds between the GUI thread's generational collections (pyqtgraph's default).
CHECK_INTERVAL_S = 1.0

_installed: list = []  # [GarbageCollector, QTimer] once installed
_gui_thread_id: int | None = None


def _defer_other_threads_collections(phase: str, _info: dict) -> None:
    # Called by the collector, on the collecting thread, before it looks at any object.
    if phase == "start" and threading.get_ident() != _gui_thread_id:
        gc.freeze()


def _collect_deferred() -> None:
    if gc.get_freeze_count():
        gc.unfreeze()
        gc.collect()
        give_back_freed_ram()  # what the other thread's free_accelerator_memory meant to do


def collect_garbage_on_gui_thread() -> bool:
    """From now on, Python's cycle collector frees objects on the GUI thread only.

    Call it on the GUI thread before a worker thread starts; False (nothing done) where
    there is no application or this is not its thread."""
    global _gui_thread_id
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() != app.thread():
        return False
    if not _installed:
        # pyqtgraph draws the charts, so importing it here costs nothing extra.
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _gui_thread_id = threading.get_ident()
        deferred = QTimer(app)
        deferred.timeout.connect(_collect_deferred)
        deferred.start(DEFERRED_CHECK_MS)
        _installed.extend([GarbageCollector(interval=CHECK_INTERVAL_S), deferred])
        gc.callbacks.append(_defer_other_threads_collections)
    return True
