"""Waiting for a BackgroundTask from the GUI thread without deadlocking.

desktop/background.py connects the worker's `done` to `QThread.quit` across threads, so
the quit is queued to the GUI thread: a plain `task.wait()` there blocks the very event
loop that would deliver it, and only returns at its timeout. This waits in short slices
and lets queued events through in between.
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
