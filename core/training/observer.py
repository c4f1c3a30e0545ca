"""The plain-Python observer a training session reports to (the GUI re-emits it as signals).

Every method is called on the training thread, so a Qt bridge must only emit queued
signals from them. An observer that raises never stops the run: the error goes to the
run's log instead. Subclass and override what you need; the defaults do nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.runs.record import RunState
from core.training.reward_figures import RewardFigures

if TYPE_CHECKING:
    from core.runs.records import Advice, MetricRecord

# Session states, in the order a run goes through them.
CREATED = "created"
PREPARING = "preparing"  # reading and tokenizing the data
LOADING = "loading"  # loading the base model
PREFLIGHT = "preflight"
TRAINING = "training"
PAUSED = "paused"
STOPPING = "stopping"
SAVING = "saving"
# Final states: the run's status as the database and run.json record it.
FINISHED = RunState.FINISHED
STOPPED = RunState.STOPPED
FAILED = RunState.FAILED
FINAL_STATES = (FINISHED, STOPPED, FAILED)


@dataclass
class Progress:
    """Sent after every optimizer step, for the progress bar."""

    step: int
    max_steps: int
    epoch: float
    elapsed_s: float
    eta_s: float | None

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.max_steps) if self.max_steps else 0.0


@dataclass
class RunResult:
    """How a run ended and where its results are."""

    run_id: str
    folder: Path
    status: RunState  # finished, stopped or failed
    reason: str = ""
    final_model_dir: Path | None = None
    best_checkpoint: Path | None = None
    best_val_loss: float | None = None
    best_step: int | None = None
    rewards: RewardFigures | None = None  # GRPO's outcome (its loss is a surrogate around 0)
    final_val_loss: float | None = None
    final_train_loss: float | None = None
    steps_done: int = 0
    max_steps: int = 0
    duration_s: float = 0.0
    peak_memory_bytes: int | None = None
    memory_kind: str = ""
    tokens_per_second: float | None = None  # real tokens over the Trainer's train_runtime
    tokens_seen: int = 0  # real (non-padding) tokens trained on in this session
    train_runtime_s: float = 0.0  # the Trainer's train() time in this session
    bookkeeping_s: float = 0.0  # of which our callback's own work (records, files, database)
    advice: list = field(default_factory=list)
    suggestions: list = field(default_factory=list)  # settings that would fit, after an OOM


class TrainingObserver:
    """Receives a run's events. All methods are optional no-ops."""

    def on_status(self, state: str, message: str) -> None:
        """The session moved to `state` (see the constants above); message says why/what."""

    def on_metrics(self, record: MetricRecord) -> None:
        """A training record (loss, lr, grad norm, tokens/s, memory, ETA) or an eval record."""

    def on_progress(self, progress: Progress) -> None:
        """One optimizer step done."""

    def on_advice(self, advice: Advice) -> None:
        """The advisor noticed something (overfitting, lr too high, divergence, ...)."""

    def on_log(self, line: str) -> None:
        """A line of the run log (also written to the run's train.log)."""

    def on_checkpoint(self, step: int, path: Path) -> None:
        """A resumable checkpoint was saved."""

    def on_finished(self, result: RunResult) -> None:
        """The run ended (finished, stopped or failed); always the last call."""


class CollectingObserver(TrainingObserver):
    """Keeps everything it is told; for tests, scripts and the CLI's summary."""

    def __init__(self) -> None:
        self.states: list[tuple[str, str]] = []
        self.records: list[MetricRecord] = []
        self.progress: list[Progress] = []
        self.advice: list[Advice] = []
        self.lines: list[str] = []
        self.checkpoints: list[tuple[int, Path]] = []
        self.result: RunResult | None = None

    def on_status(self, state: str, message: str) -> None:
        self.states.append((state, message))

    def on_metrics(self, record: MetricRecord) -> None:
        self.records.append(record)

    def on_progress(self, progress: Progress) -> None:
        self.progress.append(progress)

    def on_advice(self, advice: Advice) -> None:
        self.advice.append(advice)

    def on_log(self, line: str) -> None:
        self.lines.append(line)

    def on_checkpoint(self, step: int, path: Path) -> None:
        self.checkpoints.append((step, path))

    def on_finished(self, result: RunResult) -> None:
        self.result = result
