"""Waiting for a BackgroundTask from the GUI thread, with its results delivered.

A plain `task.wait()` returns when the thread ends, but the task's `succeeded` and
`finished` signals are queued to the GUI thread and not yet handled; the page's state
(its task reference, the refreshed table) would lag behind. This waits in short slices
and lets queued events through, so on return the task's handlers have run. (Older
desktop/background.py versions also queued the thread's quit, which made a plain wait
block until its timeout; this never depended on that.)
"""

from __future__ import annotations

import time

from PySide6.QtCore import QCoreApplication


def wait_for_task(task, timeout_ms: int = 60_000) -> bool:
    """True when the task's thread has finished within the timeout."""
    deadline = time.monotonic() + timeout_ms / 1000
    while task.is_running():
        if time.monotonic() > deadline:
            return False
        QCoreApplication.processEvents()
        task.wait(20)
    QCoreApplication.processEvents()  # deliver its last signals (succeeded, finished)
    return True
