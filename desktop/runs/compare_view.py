"""The Compare tab: the selected runs' loss curves overlaid, and their settings, data and
eval results side by side. Curves are read only for these runs; the data diff and the
eval statistics are computed in the background."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.history.compare import compare_summaries, dataset_diffs
from core.history.evals import compare_run_evals
from core.runs.curves import X_AXES, loss_curves
from core.runs.record import RunInfo
from core.runs.records import METRICS_FILE
from desktop.background import BackgroundTask
from desktop.runs.compare_html import datasets_html, evals_html, settings_html
from desktop.runs.waiting import wait_for_task


class CompareView(QWidget):
    details_ready = Signal()  # the data diff and eval comparison are shown

    def __init__(self, project, parent=None) -> None:
        super().__init__(parent)
        from desktop.runs.loss_chart import LossChart  # pyqtgraph: only when comparing

        self.project = project
        self.runs: list[RunInfo] = []
        self._tasks: list[BackgroundTask] = []  # an older one may still run: its result is dropped
        self._generation = 0

        self.heading = QLabel("Select runs on the All runs tab (Ctrl+click for several).")
        self.heading.setWordWrap(True)
        self.axis_combo = QComboBox()
        for key, title in X_AXES.items():
            self.axis_combo.addItem(f"by {title.lower()}", key)
        self.axis_combo.setToolTip(
            "Shared x axis: optimizer step, epoch, or tokens seen (compares runs with "
            "different batch sizes fairly)"
        )
        self.train_check = QCheckBox("Training loss")
        self.train_check.setChecked(True)
        self.valid_check = QCheckBox("Validation loss")
        self.valid_check.setChecked(True)
        self.valid_check.setToolTip("The held-out loss: where it turns up, the run overfits")
        self.png_button = QPushButton("Save chart as PNG…")
        self.svg_button = QPushButton("SVG…")
        self.png_button.setToolTip("Save the chart as an image for a report")
        self.svg_button.setToolTip("Save the chart as a scalable SVG")
        for widget in (self.axis_combo, self.train_check, self.valid_check):
            signal = getattr(widget, "currentIndexChanged", None) or widget.toggled
            signal.connect(self.redraw)
        self.png_button.clicked.connect(lambda: self.export_chart_dialog(".png"))
        self.svg_button.clicked.connect(lambda: self.export_chart_dialog(".svg"))

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Loss"))
        controls.addWidget(self.axis_combo)
        controls.addWidget(self.train_check)
        controls.addWidget(self.valid_check)
        controls.addStretch(1)
        controls.addWidget(self.png_button)
        controls.addWidget(self.svg_button)

        self.chart = LossChart()
        self.settings_text = QTextBrowser()
        self.data_text = QTextBrowser()
        self.evals_text = QTextBrowser()
        self.details = QTabWidget()
        self.details.addTab(self.settings_text, "Settings diff")
        self.details.addTab(self.data_text, "Data diff")
        self.details.addTab(self.evals_text, "Eval results")
        self.details.setTabToolTip(0, "Every setting whose value differs between the runs")
        self.details.setTabToolTip(1, "What changed in the data between the runs' dataset versions")
        self.details.setTabToolTip(2, "Eval metrics side by side, with significance")

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.chart)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(self.heading)
        layout.addLayout(controls)
        layout.addWidget(splitter, 1)
        self.show_runs([])

    # --- behaviour ----------------------------------------------------------------------
    @property
    def x_axis(self) -> str:
        return self.axis_combo.currentData()

    def set_project(self, project) -> None:
        self.project = project
        self.show_runs([])

    def show_runs(self, runs: list[RunInfo]) -> None:
        self.runs = list(runs)
        self._generation += 1
        names = ", ".join(r.name for r in self.runs)
        if not self.runs:
            self.heading.setText("Select runs on the All runs tab (Ctrl+click for several).")
        elif len(self.runs) == 1:
            self.heading.setText(
                f"<b>{names}</b>. Select one more run to compare settings, data and eval results."
            )
        else:
            self.heading.setText(f"Comparing <b>{len(self.runs)}</b> runs: {names}")
        self.png_button.setEnabled(bool(self.runs))
        self.svg_button.setEnabled(bool(self.runs))
        self.redraw()
        if len(self.runs) < 2:
            message = "<p>Select two or more runs.</p>"
            for browser in (self.settings_text, self.data_text, self.evals_text):
                browser.setHtml(message)
            return
        config = compare_summaries(self.project, self.runs, False, False).config
        self.settings_text.setHtml(settings_html(config, [r.name for r in self.runs]))
        self.data_text.setHtml("<p>Comparing the dataset versions…</p>")
        self.evals_text.setHtml("<p>Computing the statistics…</p>")
        self._start_details()

    def redraw(self, *_args) -> None:
        curves = [
            (r.run_id, r.name, loss_curves(r.folder / METRICS_FILE, self.x_axis)) for r in self.runs
        ]
        self.chart.set_runs(
            curves, self.x_axis, self.train_check.isChecked(), self.valid_check.isChecked()
        )

    def _start_details(self) -> None:
        project, runs, generation = self.project, list(self.runs), self._generation

        def work(report, cancelled):
            diffs = dataset_diffs(project, runs)
            report(0.5, "data compared")
            evals = compare_run_evals(
                project, [r.run_id for r in runs], {r.run_id: r.name for r in runs}
            )
            return generation, diffs, evals

        for older in self._tasks:
            older.cancel()  # its result is dropped by the generation check
        task = BackgroundTask(work, self)
        task.succeeded.connect(self._show_details)
        task.failed.connect(
            lambda message, g=generation: (
                self._details_failed(message) if g == self._generation else None
            )
        )
        task.finished.connect(lambda t=task: self._task_done(t))
        self._tasks.append(task)
        task.start()

    def _task_done(self, task) -> None:
        if task in self._tasks:
            self._tasks.remove(task)

    def _show_details(self, result) -> None:
        generation, diffs, evals = result
        if generation != self._generation:
            return
        self.data_text.setHtml(datasets_html(diffs))
        self.evals_text.setHtml(evals_html(evals))
        self.details_ready.emit()

    def _details_failed(self, message: str) -> None:
        self.data_text.setHtml(f"<p>Could not compare: {message}</p>")
        self.evals_text.setHtml(f"<p>Could not compare: {message}</p>")
        self.details_ready.emit()

    def export_chart_dialog(self, suffix: str) -> None:
        kind = "PNG image (*.png)" if suffix == ".png" else "SVG image (*.svg)"
        path, _ = QFileDialog.getSaveFileName(self, "Save the loss chart", f"loss{suffix}", kind)
        if not path:
            return
        if not path.lower().endswith(suffix):
            path += suffix
        try:
            self.chart.export_image(path)
        except (OSError, ValueError) as error:
            QMessageBox.warning(self, "Chart not saved", str(error))

    def wait_for_background(self, timeout_ms: int = 30_000) -> None:
        """Let a running comparison finish (on close, and in tests)."""
        for task in list(self._tasks):
            wait_for_task(task, timeout_ms)
