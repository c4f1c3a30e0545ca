"""Replaying a past run on the Train page: its curves, advice, log and how it ended, read
off the GUI thread and drawn into the run monitor."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from core.figures import count_text, duration_text
from core.history.grpo_evaluation import read_run_with_evaluation_advice
from core.runs.record import RunState
from core.runs.replay import ReplayedRun
from core.training.reward_figures import reward_figures
from core.training.status_text import ended_badly
from desktop.background import BackgroundTask
from desktop.theme import BAD, status_style
from desktop.training.monitor import RunMonitor


class RunReplay(QObject):
    """Loads one past run at a time; a new request cancels the one still loading."""

    loaded = Signal(object)  # ReplayedRun
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.task: BackgroundTask | None = None

    def load(self, project, run_id: str) -> None:
        self.cancel()

        def read(_report, _cancelled):
            # With the reward-hacking advice Evaluate's stored results give, if any.
            return read_run_with_evaluation_advice(project, run_id)

        task = BackgroundTask(read, self)
        task.succeeded.connect(self.loaded)
        task.failed.connect(self.failed)
        task.finished.connect(self._finished)
        self.task = task
        task.start()

    def cancel(self) -> None:
        task = self.task
        if task is not None:
            task.cancel()
            task.wait()
            self.task = None

    def _finished(self) -> None:
        self.task = None


def show_replayed_run(monitor: RunMonitor, loaded: ReplayedRun, why_not_resumable: str) -> None:
    """Draw a past run into the monitor, its status line saying how it ended and, for a run
    that cannot be continued, why."""
    run = loaded.run
    monitor.reset()
    for chart in (monitor.loss_chart, *monitor.small_charts):
        chart.set_empty_text("no steps recorded")
    monitor.load_records(loaded.records)
    monitor.set_max_steps(max(run.max_steps or 0, loaded.last_step))
    for item in loaded.advice:
        monitor.add_advice(item)
    monitor.log_view.setPlainText(loaded.log)
    monitor.finish_progress(
        run.steps_done, run.max_steps, f"{run.status} · {count_text(run.steps_done, 'step')}"
    )
    rewards = reward_figures(loaded.records)  # GRPO: its loss is a surrogate around 0
    best = (
        f" {rewards.text()}"
        if rewards is not None
        else f" Best validation loss {run.best_val_loss:.4f} at step {run.best_step}."
        if run.best_val_loss is not None
        else ""
    )
    reason = f" {run.reason}" if run.reason else ""
    if why_not_resumable and run.status != RunState.RUNNING:
        reason += f" {why_not_resumable}"
    bad = ended_badly(run.status, run.reason)
    monitor.status_label.setStyleSheet(status_style(BAD) if bad else "")
    monitor.set_status(
        f"{run.name}: {run.status} after {run.steps_done:,} steps, "
        f"{duration_text(run.duration_s)} ({run.method} on {run.device or 'unknown device'})."
        f"{best}{reason}"
    )
    monitor.redraw()
