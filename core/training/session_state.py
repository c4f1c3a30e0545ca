"""What a run's steps need of the session that runs them, as a Protocol.

The steps (run_setup, trainer_setup and the stage builders, run_loop, final_model,
oom_diagnosis, run_finish) take the session as their first argument. They name this
Protocol, never TrainingSession, so session.py imports its steps and no step imports
session.py, not even for a type: the one TrainingSession satisfies it by its attributes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.project.store import Project
    from core.recipe.config import TrainConfig
    from core.runs.record import RunLock
    from core.training.control import RunControl
    from core.training.distributed import World
    from core.training.memory_guard import MemoryGuard
    from core.training.observer import RunResult, TrainingObserver
    from core.training.preflight import PreflightReport
    from core.training.recorder import RunRecorder


class SessionState(Protocol):
    """One run's state as the steps read and set it; its controls, and the status and log
    lines the steps report through it."""

    project: Project
    config: TrainConfig | None  # None until run_setup reads a resumed run's recipe
    world: World  # which process of a distributed run this is
    observer: TrainingObserver
    resume_from: str | None  # the run being resumed, if any
    control: RunControl  # pause and stop, from any thread
    state: str
    run_id: str | None
    folder: Path | None  # the run folder, once run_setup opened it
    result: RunResult | None
    recorder: RunRecorder | None  # set once the run folder is open
    memory_guard: MemoryGuard | None
    memory_stop_reason: str  # set from the guard's thread when memory ran out
    run_lock: RunLock | None
    previous_duration: float  # seconds trained before this resume
    train_runtime: float
    preflight_report: PreflightReport | None
    suggestions: list[dict]  # settings that would fit, after running out of memory

    def report_status(self, state: str, message: str) -> None: ...

    def log(self, message: str, level: int = logging.INFO) -> None: ...

    def check_stop(self) -> None:
        """Raises RunStopped when a stop was requested (between the steps before training)."""
        ...

    def close_memory_guard(self) -> None: ...
