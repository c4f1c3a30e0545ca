"""Writes a run's record as it happens: metrics.jsonl, advice.jsonl, train.log, database rows,
and passes each event on to the observer.

Observer errors are logged, never raised: a broken chart must not kill a training run.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import traceback
from pathlib import Path

from core.runs import record as runs
from core.runs.records import (
    ADVICE_FILE,
    METRICS_FILE,
    Advice,
    JsonlAppender,
    MetricRecord,
    resumed_marker,
)
from core.training.advisor import RunAdvisor
from core.training.observer import Progress, TrainingObserver
from core.training.reward_figures import RewardTally


class _ObserverLogHandler(logging.Handler):
    def __init__(self, recorder: RunRecorder) -> None:
        super().__init__(level=logging.INFO)
        self.recorder = recorder

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.recorder.notify("on_log", self.format(record))
        except Exception:
            pass


class RunRecorder:
    def __init__(
        self,
        project,
        run_id: str,
        folder: Path,
        row_key: int,
        observer: TrainingObserver,
    ) -> None:
        self.project = project
        self.run_id = run_id
        self.folder = folder
        self.row_key = row_key
        self.observer = observer
        self.metrics = JsonlAppender(folder / METRICS_FILE)
        self.advice_file = JsonlAppender(folder / ADVICE_FILE)
        self._start_tracking()
        self.logger = logging.getLogger(f"finetune_studio.training.{run_id}")
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
        self._file_handler = logging.FileHandler(folder / runs.LOG_FILE, encoding="utf-8")
        self._file_handler.setFormatter(formatter)
        self._observer_handler = _ObserverLogHandler(self)
        self._observer_handler.setFormatter(logging.Formatter("%(message)s"))
        self.logger.addHandler(self._file_handler)
        self.logger.addHandler(self._observer_handler)
        # The libraries' warnings (deprecations, truncation, ...) belong in the run log.
        self._library_loggers = [
            logging.getLogger(name) for name in ("transformers", "trl", "peft")
        ]
        for library in self._library_loggers:
            library.addHandler(self._file_handler)

    # --- observer --------------------------------------------------------------------
    def notify(self, method: str, *args) -> None:
        callback = getattr(self.observer, method, None)
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            # Written to the file only: forwarding it to the failing observer could loop.
            self._file_handler.handle(
                logging.LogRecord(
                    self.logger.name,
                    logging.ERROR,
                    __file__,
                    0,
                    f"observer {method} failed:\n{traceback.format_exc()}",
                    None,
                    None,
                )
            )

    def log(self, message: str, level: int = logging.INFO) -> None:
        self.logger.log(level, message)

    def status(self, state: str, message: str) -> None:
        self.log(f"[{state}] {message}")
        self.notify("on_status", state, message)

    # --- records ---------------------------------------------------------------------
    def start_advisor(self, max_steps: int, history: list[MetricRecord] = ()) -> None:
        """A fresh advisor, brought up to date with a resumed run's earlier records."""
        self.advisor = RunAdvisor(max_steps)
        for record in history:
            self.advisor.observe(record)  # advice on these was given the first time
            self._track(record)

    def _start_tracking(self) -> None:
        """What the run's records are tracked into (the outcome, the advice): one place, so
        a recorder that writes nothing (distributed.FollowerRecorder) tracks the same."""
        self.advisor: RunAdvisor | None = None
        self.advice: list[Advice] = []
        self.peak_memory: int | None = None
        self.memory_kind = ""
        self.best_val: tuple[float, int] | None = None
        self.rewards = RewardTally()  # a GRPO run's outcome
        self.last_val: float | None = None
        self.last_train: float | None = None
        self.steps_done = 0
        self._lock = threading.Lock()

    def mark_resumed(self, step: int) -> None:
        self.metrics.append(resumed_marker(step))
        self.advice_file.append(resumed_marker(step))
        runs.forget_after_step(self.project, self.row_key, step)

    def _track(self, record: MetricRecord) -> None:
        if record.memory_peak is not None or record.memory_allocated is not None:
            candidate = max(
                v for v in (record.memory_peak, record.memory_allocated) if v is not None
            )
            self.peak_memory = max(self.peak_memory or 0, candidate)
            self.memory_kind = record.memory_kind or self.memory_kind
        self.rewards.add(record)
        if (
            record.kind == "eval"
            and record.reward is None  # GRPO's eval loss is a surrogate: its rewards count
            and record.eval_loss is not None
            and math.isfinite(record.eval_loss)
        ):
            self.last_val = record.eval_loss
            if self.best_val is None or record.eval_loss < self.best_val[0]:
                self.best_val = (record.eval_loss, record.step)
        if record.kind == "train" and record.loss is not None:
            self.last_train = record.loss
        self.steps_done = max(self.steps_done, record.step)

    def record(self, record: MetricRecord) -> list[Advice]:
        """Write one record everywhere, tell the observer, and return any new advice."""
        with self._lock:
            self._track(record)
            self.metrics.append(record.to_json())
            self._to_database(runs.insert_metric_row, self.project, self.row_key, record)
        self.notify("on_metrics", record)
        new_advice = self.advisor.observe(record) if self.advisor is not None else []
        for advice in new_advice:
            best_step = advice.details.get("best_step")
            if best_step is not None:
                path = self.folder / runs.CHECKPOINTS_DIR / f"checkpoint-{best_step}"
                advice.details["checkpoint"] = str(path) if path.is_dir() else None
            self.add_advice(advice)
        return new_advice

    def add_advice(self, advice: Advice) -> None:
        with self._lock:
            self.advice.append(advice)
            self.advice_file.append(advice.to_json())
            self._to_database(runs.insert_advice_row, self.project, self.row_key, advice)
        self.log(advice.as_line(), logging.WARNING if advice.severity != "info" else logging.INFO)
        self.notify("on_advice", advice)

    def _to_database(self, write, *args, **kwargs) -> None:
        """A database that stays locked (another process holding it past the busy timeout)
        must not kill the run: the files keep the record, and the row catches up later."""
        try:
            write(*args, **kwargs)
        except sqlite3.Error as error:
            self.log(
                f"database write skipped ({error}); the run folder has the record", logging.WARNING
            )

    def missing(self) -> str | None:
        """Why this run's record can no longer be kept (its folder or the project's database
        was deleted); None while both are there. Our open files would go on writing into
        the deleted ones without an error, so this looks at the paths themselves."""
        db_path = self.project.db_path
        if not self.project.folder.is_dir():
            return f"the project folder {self.project.folder} was deleted while the run trained"
        if not db_path.is_file():
            return f"the project's database {db_path} was deleted while the run trained"
        if not self.folder.is_dir():
            return f"the run folder {self.folder} was deleted while the run trained"
        return None

    def progress(self, progress: Progress) -> None:
        self.notify("on_progress", progress)

    def checkpoint_saved(self, step: int, path: Path, duration_s: float) -> None:
        self.log(f"checkpoint saved at step {step}: {path}")
        self._to_database(
            runs.update_run_row,
            self.project,
            self.run_id,
            steps_done=step,
            duration_s=duration_s,
            peak_memory_bytes=self.peak_memory,
            memory_kind=self.memory_kind,
            best_val_loss=self.best_val[0] if self.best_val else None,
            best_step=self.best_val[1] if self.best_val else None,
        )
        self.notify("on_checkpoint", step, path)

    def close(self) -> None:
        self.metrics.close()
        self.advice_file.close()
        for library in self._library_loggers:
            library.removeHandler(self._file_handler)
        self.logger.removeHandler(self._file_handler)
        self.logger.removeHandler(self._observer_handler)
        self._file_handler.close()
