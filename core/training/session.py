"""A training session: one run from data to final model, controllable from another thread.

    session = TrainingSession(project, config, observer)
    result = session.run()          # blocks: call it on a worker thread (QThread, Thread)
    session.pause(); session.resume(); session.stop()   # from any thread

run() never raises for a failed run: bad data, a model that cannot load, running out of
memory or a diverged loss all end as a RunResult with status "failed" and a reason that
says what to do. The run folder and its database row are written as the run goes, so
nothing is lost to a crash, and `resume_run` continues from the last checkpoint.

The session holds the run's state and its controls; the steps live beside it, one module
each, as torchtune's recipes do: run_setup (inputs, folder, row, run.json), trainer_setup
(tokenize, pre-flight, model, trainer), run_loop (train and conclude), final_model (save),
oom_diagnosis (out of memory: reason and fitting settings) and run_finish (the result).
The steps know the session as session_state.SessionState and never import this module.
"""

from __future__ import annotations

import logging
import threading
import traceback
from pathlib import Path

from core.project.store import Project
from core.recipe.config import TrainConfig
from core.runs import record as runs
from core.training.control import RunControl, RunStopped
from core.training.device import cpu_threads
from core.training.distributed import current_world
from core.training.memory_guard import MemoryGuard, MemoryLimits
from core.training.model_loading import quiet_progress_bars
from core.training.observer import (
    CREATED,
    FAILED,
    PREPARING,
    RunResult,
    TrainingObserver,
)
from core.training.recorder import RunRecorder
from core.training.run_finish import finish
from core.training.run_loop import train
from core.training.run_setup import SETUP_ERRORS, RunInputs, open_run, resolve_inputs

__all__ = ["RunInputs", "TrainingSession", "resume_run", "run_training", "start_run"]


class TrainingSession:
    def __init__(
        self,
        project: Project,
        config: TrainConfig | None = None,
        observer: TrainingObserver | None = None,
        resume_run: str | None = None,
    ) -> None:
        if config is None and resume_run is None:
            raise ValueError("give a config, or the run to resume")
        self.project = project
        self.config = config
        self.world = current_world()  # rank 0 of 1 unless started by a distributed launcher
        # Rank 0 reports for the whole distributed run; the others would repeat each line.
        self.observer = (observer if self.world.is_main else None) or TrainingObserver()
        self.resume_from = resume_run
        self.control = RunControl()
        self.state = CREATED
        self.run_id: str | None = resume_run
        self.folder: Path | None = None
        self.result: RunResult | None = None
        self.recorder: RunRecorder | None = None  # set once the run folder is open
        self._done = threading.Event()
        self.memory_guard = None  # a MemoryGuard while the run prepares, checks and trains
        self.memory_stop_reason = ""  # set (from the guard's thread) when memory ran out
        self.thread: threading.Thread | None = None  # set by start_run
        self.run_lock: runs.RunLock | None = None
        self.previous_duration = 0.0  # seconds trained before this resume
        self.train_runtime = 0.0
        self.preflight_report = None  # the PreflightReport, when the run checked first
        self.suggestions: list[dict] = []  # settings that would fit, after running out of memory

    # --- control from any thread ----------------------------------------------------
    def stop(self, reason: str = "Stopped by the user.") -> None:
        """Finish the current step, save a checkpoint and end (status "stopped")."""
        self.control.request_stop(reason)

    def pause(self) -> None:
        """Hold after the current optimizer step until resume() or stop()."""
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    @property
    def is_paused(self) -> bool:
        return self.control.pause_requested

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for run() to end (for callers that started it on a thread)."""
        return self._done.wait(timeout)

    # --- the run --------------------------------------------------------------------
    def run(self) -> RunResult:
        try:
            with quiet_progress_bars():
                result = self._run()
        except BaseException as error:  # KeyboardInterrupt in the CLI, or a bug of ours
            result = finish(self, FAILED, f"{type(error).__name__}: {error}", None, None)
            if not isinstance(error, Exception):
                raise
        finally:
            self._done.set()
        return result

    def _run(self) -> RunResult:
        self.report_status(PREPARING, "checking the settings and reading the data")
        try:
            inputs = resolve_inputs(self)
        except (*SETUP_ERRORS, runs.RunNotFound) as error:
            return finish(self, FAILED, str(error), None, None)

        self._start_memory_guard(inputs)
        try:
            open_run(self, inputs)
            with cpu_threads(inputs.config, inputs.plan) as threads:
                if threads:
                    self.log(f"training on {threads} CPU threads")
                return train(self, inputs)
        finally:
            self.close_memory_guard()

    # --- for the steps (run_setup, trainer_setup, run_loop, ...) ------------------------
    def report_status(self, state: str, message: str) -> None:
        self.state = state
        if self.recorder is not None:
            self.recorder.status(state, message)
        else:
            try:
                self.observer.on_status(state, message)
            except Exception:
                traceback.print_exc()

    def log(self, message: str, level: int = logging.INFO) -> None:
        if self.recorder is not None:
            self.recorder.log(message, level)

    def check_stop(self) -> None:
        """Between the stages before training: a stop request ends the run here."""
        if self.control.stop_requested:
            raise RunStopped()

    # --- the memory guard -----------------------------------------------------------
    def _start_memory_guard(self, inputs: RunInputs) -> None:
        self.memory_guard = MemoryGuard(
            MemoryLimits.from_config(inputs.config),
            on_stop=self._memory_ran_out,
            watch_gpu=inputs.plan.device == "cuda",
            on_warning=lambda _text: None,  # read at the next step end (see the callback)
        )
        self.memory_guard.start(threading.get_ident())

    def close_memory_guard(self) -> None:
        guard = self.memory_guard
        if guard is not None:
            guard.close()

    def _memory_ran_out(self, reason: str) -> None:
        """Called on the guard's thread: only flags, the training thread does the rest."""
        self.memory_stop_reason = reason
        self.control.request_stop(f"Out of memory: {reason}.")


def start_run(
    project: Project,
    config: TrainConfig | None,
    observer: TrainingObserver | None = None,
    resume_run: str | None = None,
) -> TrainingSession:
    """Start a session on a background thread; control it with stop/pause/resume/wait."""
    session = TrainingSession(project, config, observer, resume_run)
    thread = threading.Thread(target=session.run, name="finetune-studio-training", daemon=True)
    session.thread = thread
    thread.start()
    return session


def run_training(
    project: Project,
    config: TrainConfig,
    observer: TrainingObserver | None = None,
) -> RunResult:
    """Train to the end on this thread."""
    return TrainingSession(project, config, observer).run()


def resume_run(
    project: Project, run_id: str, observer: TrainingObserver | None = None
) -> RunResult:
    """Continue an interrupted, stopped or failed run from its last checkpoint."""
    return TrainingSession(project, None, observer, resume_run=run_id).run()
