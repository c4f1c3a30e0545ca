"""Running on the Train page: Start, pause, resume, stop and continue, one run at a time.

RunControl owns the Start button and the hint under it, drives the monitor's run buttons
and status line, and hosts the run on its thread (desktop/training/host.py). Closing the
window during a run asks first, then stops the run (which saves a checkpoint) and waits
for the thread.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QPushButton, QWidget

from core.recipe.config import TrainConfig, TrainConfigError
from core.training.continuing import continue_config, why_not_resumable
from core.training.observer import FAILED, FINISHED, PAUSED, STOPPED, STOPPING, RunResult
from core.training.status_text import ended_badly, ended_progress_text, result_text, status_line
from desktop.theme import ACCENT, BAD, status_style
from desktop.training.config_form import ConfigForm
from desktop.training.host import TrainingHost
from desktop.training.monitor import RunMonitor

STOP_WAIT_S = 600.0  # a big model's final save can take minutes; the GUI stays live meanwhile
PRIMARY_STYLE = (
    f"QPushButton {{ background: {ACCENT}; color: white; padding: 7px 18px; border-radius: 4px;"
    " font-weight: 600; } QPushButton:disabled { background: palette(mid); }"
)


class RunControl(QObject):
    """The run's state machine: idle -> running <-> paused -> stopping -> idle."""

    started = Signal(bool)  # a run's thread began (True: a run continued from a checkpoint)
    ended = Signal(str)  # the run's thread has ended (its run id): another may start
    identified = Signal(str)  # the live run has its folder and id (the run picker names it)

    def __init__(
        self,
        page: QWidget,
        form: ConfigForm,
        monitor: RunMonitor,
        project: Callable[[], object],
    ) -> None:
        super().__init__(page)
        self._page, self.form, self.monitor, self._project = page, form, monitor, project
        self.host = TrainingHost(self)
        self.last_result: RunResult | None = None
        # Something else on the page that must end before a run starts (pre-flight).
        self.others_busy: Callable[[], bool] = lambda: False
        # Asked when the window closes during a run; tests replace it (no modal dialogs).
        self.confirm_close: Callable[[], bool] = self._ask_to_stop
        self._paused = False
        self._closing = False  # set while the window waits for a stopping run
        self._identified = ""  # the live run's id, once announced

        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("startButton")
        self.start_button.setStyleSheet(PRIMARY_STYLE)
        self.start_button.setToolTip("Start a run with these settings (F5 or Ctrl+Enter)")
        self.start_button.clicked.connect(self.start)
        self.start_hint = QLabel()
        self.start_hint.setObjectName("startHint")
        self.start_hint.setWordWrap(True)
        self.start_hint.setStyleSheet(status_style(BAD))
        self.start_hint.hide()

        host = self.host
        host.status.connect(self._on_status)
        host.metrics.connect(monitor.add_record)
        host.progress.connect(monitor.set_progress)
        host.advice.connect(monitor.add_advice)
        host.log.connect(monitor.append_log)
        host.finished.connect(self._on_finished)
        host.thread_finished.connect(self._on_thread_finished)
        monitor.pause_clicked.connect(self.pause)
        monitor.resume_clicked.connect(self.resume)
        monitor.stop_clicked.connect(self.stop)
        for keys, slot in (
            ("F5", self._start_or_resume),
            ("Ctrl+Return", self.start),
            ("F6", self.pause),
            ("Shift+F5", self.stop),
        ):
            QShortcut(QKeySequence(keys), page, activated=slot)
        app = QApplication.instance()
        if app is not None:  # last line of defence: never let Qt destroy a running thread
            app.aboutToQuit.connect(self._shutdown_quietly)

    def is_busy(self) -> bool:
        return self.host.is_busy()

    # --- starting -----------------------------------------------------------------------
    def checked_config(self) -> TrainConfig | None:
        """The form's settings if a run can start with them; else say why at the field."""
        form = self.form
        config = form.config()
        if config is None:
            wrong = list(form.errors)
            if wrong:
                form.focus(wrong[0])
            self.hint(
                form.general_error
                or f"Fix the {len(wrong)} setting{'s' if len(wrong) != 1 else ''} marked in red."
            )
            return None
        try:
            config.require_data()
        except TrainConfigError as error:
            form.show_error(error.field, error.message)
            form.focus(error.field)
            self.hint(error.message)
            return None
        return config

    def hint(self, text: str) -> None:
        """Why Start did nothing, under the button ("" hides it)."""
        self.start_hint.setText(text)
        self.start_hint.setVisible(bool(text))

    def _blocked(self) -> bool:
        return self.host.is_busy() or self.others_busy() or self._closing

    def start(self) -> bool:
        """Start a run with the form's settings; False (and the reason shown) if it cannot."""
        if self._blocked():
            return False
        config = self.checked_config()
        if config is None:
            return False
        self._begin(config, None)
        return True

    def continue_run(self, run_id: str) -> bool:
        """Resume `run_id` from its last checkpoint; False (and why) if it cannot."""
        if not run_id or self._blocked():
            return False
        why = why_not_resumable(self._project(), run_id)
        if why:
            self.monitor.set_status(why)
            return False
        self._begin(continue_config(self._project(), run_id, self.form.config()), run_id)
        return True

    def _begin(self, config: TrainConfig | None, resume_run: str | None) -> None:
        if resume_run is None:
            self.monitor.reset()
        self.last_result = None
        self._paused = False
        self._identified = ""
        self.hint("")
        self.form.release_held()
        self.monitor.status_label.setStyleSheet("")
        self.monitor.set_status("Starting…")
        self.monitor.set_controls("running")
        self.form.widget.setEnabled(False)
        self.host.start(self._project(), config, resume_run=resume_run)
        self.started.emit(resume_run is not None)

    # --- while it runs ------------------------------------------------------------------
    def pause(self) -> None:
        if self.host.is_busy() and not self._paused:
            self._paused = True
            self.host.pause()
            self.monitor.set_controls("paused")
            self.monitor.set_status("Pausing after the current step…")

    def resume(self) -> None:
        if self.host.is_busy() and self._paused:
            self._paused = False
            self.host.resume()
            self.monitor.set_controls("running")
            self.monitor.set_status("Training (resumed)")

    def stop(self, reason: str = "Stopped by the user.") -> None:
        if self.host.is_busy():
            self.host.stop(reason)
            self.monitor.set_controls("stopping")
            self.monitor.set_status("Stopping after the current step: saving a checkpoint…")

    def _start_or_resume(self) -> None:
        if self._paused:
            self.resume()
        else:
            self.start()

    def _on_status(self, state: str, message: str) -> None:
        self._announce_run_id()
        if state in (FINISHED, STOPPED, FAILED):
            return  # _on_finished says it with the result
        self.monitor.set_status(status_line(state, message))
        if state == PAUSED:
            self._paused = True
            self.monitor.set_controls("paused")
        elif state == STOPPING:
            self.monitor.set_controls("stopping")
        elif state == "training" and not self._paused:
            self.monitor.set_controls("running")

    def _announce_run_id(self) -> None:
        """Once the run's folder and row exist it has an id, which the run picker shows
        instead of the run shown before."""
        session = self.host.session
        # The recorder is made once the run's row is in the database (the id is set just
        # before that, and the picker lists the rows).
        opened = session is not None and session.recorder is not None
        run_id = (session.run_id or "") if opened else ""
        if run_id and run_id != self._identified:
            self._identified = run_id
            self.identified.emit(run_id)

    # --- the end --------------------------------------------------------------------------
    def _on_finished(self, result: RunResult) -> None:
        self.last_result = result
        self.monitor.set_status(result_text(result))
        bad = ended_badly(result.status, result.reason)
        self.monitor.status_label.setStyleSheet(status_style(BAD) if bad else "")
        self.monitor.finish_progress(
            result.steps_done, result.max_steps, ended_progress_text(result)
        )

    def _show_refusal(self, reason: str) -> None:
        """A run refused before it had a folder (its data or settings): no run record keeps
        the reason, so it stays under Start, and at its field when it names one
        (TrainConfigError reads "field: message"), held there until that field changes or
        a run starts: the form is validated again later (the settings' save and the plan on
        their timers, the estimate, a list refilled), which would clear a shown message."""
        self.hint(reason)
        name, _, message = reason.partition(": ")
        if name in self.form.editors and message:
            self.form.hold_error(name, message)

    def _on_thread_finished(self) -> None:
        self._paused = False
        self.monitor.set_controls("idle")
        self.form.widget.setEnabled(True)
        session = self.host.session
        result = self.last_result
        run_id = result.run_id if result else ""
        self.ended.emit(run_id or (session.run_id if session is not None else "") or "")
        if result is not None and result.status == FAILED and not result.run_id:
            self._show_refusal(result.reason or "")

    def can_close(self) -> bool:
        """The window closes: ask during a run, then stop it and wait for its thread."""
        if not self.host.is_busy():
            return True
        if not self.confirm_close():
            return False
        self.monitor.set_status("Stopping the run and saving a checkpoint before closing…")
        # The GUI keeps running while we wait; nothing on this page may start meanwhile.
        self._closing = True
        self._page.setEnabled(False)
        try:
            if self.host.shutdown(STOP_WAIT_S):
                return True
        finally:
            self._closing = False
            self._page.setEnabled(True)
        self.monitor.set_status("The run is still saving; close again in a moment.")
        return False

    def _ask_to_stop(self) -> bool:
        """Stop the run and close? Asks nothing when no run trains (quitting then is not
        a question about training)."""
        if not self.host.is_busy():
            return True
        answer = QMessageBox.question(
            self._page,
            "Stop the training run?",
            "A run is training. Stop it and close? A checkpoint is saved, so you can "
            "continue the run later from the Train page.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _shutdown_quietly(self) -> None:
        if self.host.is_busy():
            self.host.shutdown(STOP_WAIT_S)
