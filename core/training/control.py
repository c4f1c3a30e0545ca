"""Stop, pause and resume requests, safe to make from any thread.

The training thread looks at them between optimizer steps (the callback's on_step_end):
a pause blocks once that step is logged, evaluated and saved, until resume or stop; a
stop lets the step finish, saves a checkpoint and ends the run cleanly.
"""

from __future__ import annotations

import threading


class RunStopped(Exception):
    """The user (or the memory guard) stopped the run before training began."""


class TrainingComplete(Exception):
    """A resumed run's checkpoint is already at its last step (it was killed while the final
    model was saved). transformers would still take one more step when the last step does
    not end an epoch; the callback stops it before that step, with the checkpoint loaded."""


class RunDeleted(Exception):
    """The run folder or the project's database was deleted while the run trained: what the
    run writes would vanish, so it stops (failed) instead of ending "finished"."""


class RunControl:
    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()
        self._lock = threading.Lock()
        self.stop_reason = ""

    def request_stop(self, reason: str = "Stopped by the user.") -> None:
        with self._lock:
            if not self._stop.is_set():
                self.stop_reason = reason
            self._stop.set()
        self._running.set()  # a paused run must wake up to stop

    def pause(self) -> None:
        if not self._stop.is_set():
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def pause_requested(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self, poll_s: float = 0.5) -> None:
        """Block the calling (training) thread until resumed or stopped."""
        while not self._running.wait(poll_s):
            pass
