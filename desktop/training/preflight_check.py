"""Pre-flight from the Train page: a few real steps on the longest batch, off the GUI
thread, with progress, Cancel, the verdict in green or red and a "Use: ..." button for
each setting that would fit."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton

from core.recipe.config import TrainConfig
from core.training.preflight import PreflightCancelled, run_preflight
from desktop.background import BackgroundTask
from desktop.theme import BAD, GOOD, status_color

PREFLIGHT_TOOLTIP = (
    "Run 3 real steps on the longest batch: measure peak memory and step time, and get "
    "settings that fit if it would run out of memory. Click again to cancel."
)
VERDICT_KINDS = {True: GOOD, False: BAD}


class PreflightCheck(QObject):
    """Owns the pre-flight button, its progress bar, the verdict label and the suggestion
    buttons; the page lays them out and decides when a check may start."""

    apply_changes = Signal(dict)  # a "Use: ..." button: set these fields in the form
    measured = Signal(object)  # the PreflightReport of a check that ran to the end
    finished = Signal()  # a check ended (done, failed or cancelled)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.task: BackgroundTask | None = None
        self.cancelling = False
        self.button = QPushButton("Pre-flight check")
        self.button.setToolTip(PREFLIGHT_TOOLTIP)
        self.busy = QProgressBar()
        self.busy.setObjectName("preflightProgress")
        self.busy.setRange(0, 100)
        self.busy.setTextVisible(False)
        self.busy.setMaximumWidth(90)
        self.busy.hide()
        self.label = QLabel()
        self.label.setObjectName("preflightResult")
        self.label.setWordWrap(True)
        self.label.hide()
        self.suggestion_row = QHBoxLayout()

    def start(self, project, config: TrainConfig) -> None:
        def check(report, cancelled):
            try:
                return run_preflight(project, config, report=report, cancelled=cancelled)
            except PreflightCancelled:
                return None

        task = BackgroundTask(check, self)
        task.progress.connect(self._progress)
        task.succeeded.connect(self._done)
        task.failed.connect(
            lambda message: self.show_result(
                f"Pre-flight failed: {message}. Check the settings marked above, or start "
                "the run: it reports the same problem with more detail in its log.",
                False,
            )
        )
        task.finished.connect(self._finished)
        self.task = task
        self.busy.setValue(0)
        self.busy.show()
        self.button.setText("Cancel pre-flight")
        self.button.setToolTip("Stop the pre-flight check (nothing is changed)")
        self.show_result("Pre-flight: reading and tokenizing the data…", None)
        task.start()

    def cancel(self) -> None:
        task = self.task
        if task is not None:
            task.cancel()
            self.cancelling = True
            self.button.setEnabled(False)
            self.show_result("Cancelling the pre-flight check after the current step…", None)

    def show_result(self, text: str, fits: bool | None) -> None:
        """The verdict (green: fits, red: does not, plain: neither); "" hides it."""
        while self.suggestion_row.count():
            item = self.suggestion_row.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        color = (
            status_color(VERDICT_KINDS[fits]) if fits in VERDICT_KINDS else "palette(window-text)"
        )
        self.label.setStyleSheet(f"color: {color};")
        self.label.setText(text)
        self.label.setVisible(bool(text))

    def _progress(self, fraction: float, message: str) -> None:
        if self.task is None or self.cancelling:
            return
        self.busy.setValue(int(fraction * 100))
        self.label.setText(message)

    def _done(self, report) -> None:
        if report is None:
            self.show_result("Pre-flight cancelled: nothing was changed.", None)
            return
        self.measured.emit(report)
        self.show_result(report.message, report.fits)
        for suggestion in report.suggestions:
            button = QPushButton(f"Use: {suggestion.label}")
            button.setToolTip(suggestion.reason)
            button.clicked.connect(
                lambda _=False, changes=dict(suggestion.changes): self.apply_changes.emit(changes)
            )
            self.suggestion_row.addWidget(button)

    def _finished(self) -> None:
        self.task = None
        self.cancelling = False
        self.busy.hide()
        self.button.setText("Pre-flight check")
        self.button.setToolTip(PREFLIGHT_TOOLTIP)
        self.finished.emit()
