"""The Train page's run picker: the project's runs, newest first, above the monitor.

Choosing a run replays its curves, advice and log (read off the GUI thread,
run_replay.py); its Continue button says whether the run can be continued, and why not.
A visible page with no run chosen shows the newest run (after a restart too), never
"No run yet" while runs exist.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Signal

from core.runs.record import list_runs
from core.runs.replay import ReplayedRun
from core.training.continuing import (
    CONTINUE_TIP,
    adapter_sources,
    why_not_continue,
    why_not_resumable,
)
from core.training.observer import FINISHED
from core.training.status_text import run_choice_text
from desktop.training.monitor import RunMonitor
from desktop.training.run_replay import RunReplay, show_replayed_run


class RunList(QObject):
    """Fills monitor.run_combo and keeps monitor.continue_button's state and tooltip."""

    # (label, run id) of finished runs whose adapter a DPO or GRPO stage may start from.
    adapter_sources = Signal(list)

    def __init__(
        self,
        monitor: RunMonitor,
        project: Callable[[], object],
        training: Callable[[], bool],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.monitor, self._project, self._training = monitor, project, training
        self.combo = monitor.run_combo
        self.replay = RunReplay(self)
        self.replay.loaded.connect(self._show_loaded_run)
        self.replay.failed.connect(lambda message: monitor.set_status(f"Could not load: {message}"))
        self._shown_run_id = ""  # the run the monitor shows (live or replayed)
        # A run refused before it had an id: its reason stays on the monitor, no past run
        # is replayed over it until the user picks one or starts another.
        self._keeping_refusal = False
        self.combo.currentIndexChanged.connect(self._run_chosen)
        monitor.installEventFilter(self)  # shown: show the newest run if none is chosen

    def chosen(self) -> str:
        return self.combo.currentData() or ""

    def refresh(self, select: str | None = None) -> None:
        """List the project's runs, keeping (or choosing) `select`."""
        combo = self.combo
        current = select if select is not None else self.chosen()
        combo.blockSignals(True)
        combo.setPlaceholderText(
            "the run did not start: why is below" if self._keeping_refusal else ""
        )
        combo.clear()
        runs = list_runs(self._project())
        if not runs:
            combo.addItem("no runs yet", "")
        for run in runs:
            combo.addItem(run_choice_text(run.name, run.status, run.started_at), run.run_id)
        index = combo.findData(current) if current else -1
        combo.setCurrentIndex(max(0, index) if current else -1 if runs else 0)
        combo.blockSignals(False)
        self.adapter_sources.emit(adapter_sources(runs))
        self.update_continue_button()
        self.show_latest()

    def runs_changed(self, _run_id: str = "") -> None:
        """A run started, finished or was deleted elsewhere (project events)."""
        if not self._training():  # during a run the list is filled when it ends
            self.refresh()

    def show_latest(self) -> None:
        combo = self.combo
        if (
            self.monitor.isVisible()
            and combo.currentIndex() < 0
            and combo.count()
            and combo.itemData(0)
            and not self._training()
            and self.replay.task is None
            and not self._keeping_refusal
        ):
            combo.setCurrentIndex(0)  # shows it (_run_chosen)

    def eventFilter(self, watched, event) -> bool:
        if watched is self.monitor and event.type() == QEvent.Type.Show:
            self.show_latest()
        return False

    def _run_chosen(self, _index: int) -> None:
        run_id = self.chosen()
        self.update_continue_button()
        if run_id:
            self._keeping_refusal = False
        if not run_id or self._training() or run_id == self._shown_run_id:
            return
        self.show_run(run_id)

    def show_run(self, run_id: str) -> None:
        """Load a finished or past run's curves, advice and log (off the GUI thread)."""
        self._shown_run_id = run_id
        self.monitor.set_status(f"Loading {run_id}…")
        self.replay.load(self._project(), run_id)

    def _show_loaded_run(self, loaded: ReplayedRun) -> None:
        if self._training():
            return  # a run started meanwhile; its live curves win
        run = loaded.run
        why_not = why_not_resumable(self._project(), run.run_id) if run.status != FINISHED else ""
        show_replayed_run(self.monitor, loaded, why_not)

    def update_continue_button(self) -> None:
        why = why_not_continue(self._project(), self.chosen(), self._training())
        button = self.monitor.continue_button
        button.setEnabled(not why)
        button.setToolTip(why or CONTINUE_TIP)

    # --- a live run -------------------------------------------------------------------
    def live_run_started(self, resumed: bool) -> None:
        self.replay.cancel()  # the live run's curves take the monitor
        self._keeping_refusal = False
        if not resumed:
            self._shown_run_id = ""
        self.update_continue_button()

    def live_run_identified(self, run_id: str) -> None:
        """The live run has its folder: the picker names it, not the run shown before."""
        self._shown_run_id = run_id
        self.refresh(select=run_id)

    def live_run_ended(self, run_id: str) -> None:
        """The live run's thread ended: list it, chosen, without replaying what is shown.
        A run refused before it had an id keeps its reason on screen: choosing nothing
        would replay the newest past run over it."""
        self._shown_run_id = run_id or self._shown_run_id
        self._keeping_refusal = not self._shown_run_id
        self.refresh(select=self._shown_run_id)
