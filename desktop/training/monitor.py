"""The live monitor: loss curves with the advisor's markers, learning rate, gradient norm,
tokens per second and memory, progress with ETA, the advice list and the run log.

Signals from the training thread only store what they bring (appending to numpy buffers,
keeping the latest progress, queueing log lines); a 10 Hz timer turns that into drawing.
So a burst of records costs the GUI one redraw, not one per record.
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.figures import duration_text
from core.runs.records import Advice, MetricRecord
from core.training.curves import SeriesBuffer
from core.training.observer import Progress
from desktop.theme import BAD, status_style
from desktop.training.advice_panel import AdvicePanel
from desktop.training.charts import TRAIN_COLOR, VALID_COLOR, LossChart, MetricChart

REDRAW_INTERVAL_MS = 100  # about 10 Hz: smooth to the eye, cheap for the GUI thread
LOG_LINES_KEPT = 5000
GIB = 1024**3
REWARD_COLORS = ("#2a9d8f", "#7a5cc8", "#d9822b", "#b5527a", "#5a8f29", "#3b7dd8")


class RunMonitor(QWidget):
    pause_clicked = Signal()
    resume_clicked = Signal()
    stop_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.series = {
            name: SeriesBuffer()
            for name in (
                "loss",
                "eval_loss",
                "learning_rate",
                "grad_norm",
                "tokens_per_second",
                "memory_allocated",
                "memory_peak",
                "rewards_margin",
                "rewards_accuracy",
                "reward",
                "reward_std",
                "kl",
                "completion_length",
            )
        }
        self._progress: Progress | None = None
        self._progress_shown: Progress | None = None
        self._pending_log: list[str] = []
        self.memory_kind = ""
        self.max_steps = 0
        self.redraws = 0
        self._reward_names: list[tuple[str, str]] = []
        self._preferences_shown = self._rewards_shown = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(self._header())
        layout.addLayout(self._progress_row())
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self._loss_area())
        splitter.addWidget(self._small_charts())
        splitter.addWidget(self._tabs())
        splitter.setStretchFactor(0, 5)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 3)
        layout.addWidget(splitter, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_INTERVAL_MS)
        self.timer.timeout.connect(self.tick)
        self.set_controls("idle")

    # --- building -----------------------------------------------------------------
    def _header(self) -> QHBoxLayout:
        row = QHBoxLayout()
        label = QLabel("&Run")
        self.run_combo = QComboBox()
        self.run_combo.setObjectName("runPicker")
        self.run_combo.setToolTip(
            "Show a finished or past run's curves, advice and log (while nothing trains)"
        )
        self.run_combo.setMinimumContentsLength(28)
        self.run_combo.setPlaceholderText("choose a past run to show its curves")
        label.setBuddy(self.run_combo)
        self.continue_button = QPushButton("Continue run")
        self.continue_button.setToolTip(
            "Resume this stopped, failed or interrupted run from its last checkpoint"
        )
        self.continue_button.setEnabled(False)
        row.addWidget(label)
        row.addWidget(self.run_combo, 1)
        row.addWidget(self.continue_button)
        return row

    def _progress_row(self) -> QVBoxLayout:
        column = QVBoxLayout()
        column.setSpacing(4)
        self.status_label = QLabel("No run yet: choose the settings on the left and press Start.")
        self.status_label.setObjectName("runStatus")
        self.status_label.setWordWrap(True)
        row = QHBoxLayout()
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("runProgress")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("not started")
        self.progress_bar.setTextVisible(True)
        # Room for the longest text the bar shows, so it is never cut.
        widest = "step 10,000 of 10,000 · ETA 10 h 00 min"
        self.progress_bar.setMinimumWidth(self.fontMetrics().horizontalAdvance(widest) + 40)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Hold after the current step (F6)")
        self.pause_button.clicked.connect(self.pause_clicked)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Go on training (F5)")
        self.resume_button.clicked.connect(self.resume_clicked)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip(
            "Finish the current step, save a checkpoint and the final model, and end (Shift+F5)"
        )
        self.stop_button.clicked.connect(self.stop_clicked)
        # The buttons share the status line's row (it wraps), the bar has a row of its own:
        # beside the buttons, the bar's room for its longest text made the monitor wider
        # than the window gives it at its smallest size (960x620), and the buttons were
        # drawn over the bar's "not started".
        row.addWidget(self.status_label, 1)
        for button in (self.pause_button, self.resume_button, self.stop_button):
            row.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
        column.addLayout(row)
        column.addWidget(self.progress_bar)
        return column

    def _loss_area(self) -> QWidget:
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        tools = QHBoxLayout()
        self.smooth_check = QCheckBox("Smooth")
        self.smooth_check.setToolTip(
            "Show an exponential moving average of the training loss over the raw curve"
        )
        self.smooth_weight = QDoubleSpinBox()
        self.smooth_weight.setRange(0.5, 0.99)
        self.smooth_weight.setSingleStep(0.01)
        self.smooth_weight.setDecimals(2)
        self.smooth_weight.setValue(0.9)
        self.smooth_weight.setToolTip("Smoothing weight: higher is smoother (0.9 is usual)")
        self.smooth_weight.setEnabled(False)
        self.log_check = QCheckBox("Log scale")
        self.log_check.setToolTip("A logarithmic loss axis: small late changes become visible")
        self.nonfinite_label = QLabel()
        self.nonfinite_label.setStyleSheet(status_style(BAD))
        self.nonfinite_label.hide()
        legend = QLabel(
            f"<span style='color:{TRAIN_COLOR}'>━ training</span>&nbsp;&nbsp;"
            f"<span style='color:{VALID_COLOR}'>━● validation</span>"
        )
        tools.addWidget(legend)
        tools.addWidget(self.nonfinite_label)
        tools.addStretch(1)
        tools.addWidget(self.smooth_check)
        tools.addWidget(self.smooth_weight)
        tools.addWidget(self.log_check)
        self.loss_chart = LossChart(self.series["loss"], self.series["eval_loss"])
        self.loss_chart.setMinimumHeight(180)
        self.smooth_check.toggled.connect(self._smoothing_changed)
        self.smooth_weight.valueChanged.connect(self._smoothing_changed)
        self.log_check.toggled.connect(self.loss_chart.set_log_scale)
        column.addLayout(tools)
        column.addWidget(self.loss_chart, 1)
        return holder

    def _small_charts(self) -> QWidget:
        holder = QWidget()
        self.small_grid = QGridLayout(holder)
        self.small_grid.setContentsMargins(0, 0, 0, 0)
        self.small_grid.setSpacing(4)

        def chart(title: str) -> MetricChart:
            # Owned by the holder even while hidden out of the grid: a parentless chart
            # outlived a closed page in reference cycles, and a training thread's
            # gc.collect() then destroyed its scene there (a segfault; gui_garbage.py).
            return MetricChart(title, step_label=False, parent=holder)

        self.lr_chart = chart("Learning rate")
        self.lr_chart.add_curve(self.series["learning_rate"], "#7a5cc8")
        self.grad_chart = chart("Gradient norm")
        self.grad_chart.add_curve(self.series["grad_norm"], "#2a9d8f")
        self.speed_chart = chart("Tokens per second")
        self.speed_chart.add_curve(self.series["tokens_per_second"], "#5a8f29")
        self.memory_chart = chart("Memory (GiB)")
        self.memory_chart.add_curve(self.series["memory_allocated"], "#b5527a")
        self.memory_chart.add_curve(self.series["memory_peak"], "#e3a3bf")
        # DPO: how far the chosen answers' implicit reward is above the rejected ones', and
        # the share of pairs ranked right; shown once a run reports them.
        self.margin_chart = chart("DPO margin (chosen - rejected)")
        self.margin_chart.add_curve(self.series["rewards_margin"], "#d9822b")
        self.accuracy_chart = chart("DPO pairs ranked right")
        self.accuracy_chart.add_curve(self.series["rewards_accuracy"], "#3b7dd8")
        self.preference_charts = (self.margin_chart, self.accuracy_chart)
        # GRPO: the weighted reward (and its spread within the step's answers), each
        # reward's mean (a curve per reward, added as the run names them), the KL from the
        # starting model and the answers' length; shown once a run reports rewards.
        self.reward_chart = chart("GRPO reward (lighter: spread)")
        self.reward_chart.add_curve(self.series["reward"], "#d9822b")
        self.reward_chart.add_curve(self.series["reward_std"], "#f0c29a")
        self.reward_parts_chart = chart("Each reward (mean)")
        # The rewards' names under the chart, wrapped: a legend inside the plot covered
        # the curves of a short chart once a recipe had more than two or three rewards.
        self.reward_legend = QLabel()
        self.reward_legend.setObjectName("rewardLegend")
        self.reward_legend.setWordWrap(True)
        self.reward_legend.setStyleSheet("font-size: 11px;")
        self.reward_parts_box = QWidget(holder)
        box = QVBoxLayout(self.reward_parts_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.reward_parts_chart, 1)
        box.addWidget(self.reward_legend)
        self.kl_chart = chart("KL from the starting model")
        self.kl_chart.add_curve(self.series["kl"], "#c0392b")
        self.length_chart = chart("Answer length (tokens)")
        self.length_chart.add_curve(self.series["completion_length"], "#3b7dd8")
        self.reward_charts = (
            self.reward_chart,
            self.reward_parts_chart,
            self.kl_chart,
            self.length_chart,
        )
        self.small_charts = (
            self.lr_chart,
            self.grad_chart,
            self.speed_chart,
            self.memory_chart,
            *self.preference_charts,
            *self.reward_charts,
        )
        self._show_preference_charts(False)
        self._show_reward_charts(False)
        return holder

    def _cell(self, chart: MetricChart) -> QWidget:
        """The widget a chart's grid cell holds (each reward's chart sits over its legend)."""
        return self.reward_parts_box if chart is self.reward_parts_chart else chart

    def _lay_out_small_charts(self) -> None:
        """The shown small charts in rows of two, or of three past four charts: a GRPO
        run's eight in rows of two left each too short to read."""
        hidden = (() if self._preferences_shown else self.preference_charts) + (
            () if self._rewards_shown else self.reward_charts
        )
        shown = [c for c in self.small_charts if c not in hidden]
        columns = 2 if len(shown) <= 4 else 3
        for chart in self.small_charts:
            self.small_grid.removeWidget(self._cell(chart))
        for index, chart in enumerate(shown):
            self.small_grid.addWidget(self._cell(chart), index // columns, index % columns)
        for column in range(3):
            self.small_grid.setColumnStretch(column, 1 if column < columns else 0)
        # Rows share the height evenly (a row left from a longer layout kept none).
        rows = -(-len(shown) // columns)
        for row in range(-(-len(self.small_charts) // 2)):
            self.small_grid.setRowStretch(row, 1 if row < rows else 0)

    def _show_preference_charts(self, shown: bool) -> None:
        self._preferences_shown = shown
        for chart in self.preference_charts:
            chart.setVisible(shown)
        self._lay_out_small_charts()

    def _show_reward_charts(self, shown: bool) -> None:
        self._rewards_shown = shown
        for chart in self.reward_charts:
            self._cell(chart).setVisible(shown)
        self._lay_out_small_charts()

    def _reward_part(self, name: str) -> SeriesBuffer:
        """The buffer of one GRPO reward's mean, its curve added the first time it is seen."""
        key = f"reward_part:{name}"
        if key not in self.series:
            self.series[key] = SeriesBuffer()
            n = sum(k.startswith("reward_part:") for k in self.series) - 1
            color = REWARD_COLORS[n % len(REWARD_COLORS)]
            self.reward_parts_chart.add_curve(self.series[key], color, name=name)
            self._reward_names.append((name, color))
            self.reward_legend.setText(
                "&nbsp;&nbsp; ".join(
                    f"<span style='color:{c}'>━&nbsp;{html.escape(n)}</span>"
                    for n, c in self._reward_names
                )
            )
        return self.series[key]

    def _tabs(self) -> QTabWidget:
        self.tabs = QTabWidget()
        self.advice_panel = AdvicePanel()
        self.advice_panel.count_changed.connect(
            lambda n: self.tabs.setTabText(0, f"Advice ({n})" if n else "Advice")
        )
        self.log_view = QPlainTextEdit()
        self.log_view.setObjectName("runLog")
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(LOG_LINES_KEPT)
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.log_view.setPlaceholderText("The run log appears here (also saved as train.log).")
        self.tabs.addTab(self.advice_panel, "Advice")
        self.tabs.addTab(self.log_view, "Log")
        return self.tabs

    # --- what the run reports (stored; drawn by the timer) ---------------------------
    def reset(self) -> None:
        for buffer in self.series.values():
            buffer.clear()
        self.loss_chart.clear_markers()
        self.advice_panel.clear()
        self.log_view.clear()
        self._pending_log.clear()
        self._progress = self._progress_shown = None
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("starting")
        self.memory_kind = ""
        self._show_preference_charts(False)
        self._show_reward_charts(False)
        self.set_max_steps(0)
        for chart in (self.loss_chart, *self.small_charts):
            chart.set_empty_text("waiting for the first step")
        self.redraw()

    def add_record(self, record: MetricRecord) -> None:
        series = self.series
        if record.kind == "eval":
            last = series["eval_loss"].last()
            if last is not None and record.step <= last[0]:
                self.forget_after(record.step - 1)
            series["eval_loss"].append(record.step, record.eval_loss)
            return
        last = series["loss"].last()
        if last is not None and record.step <= last[0]:
            self.forget_after(record.step - 1)  # a resumed run redoes steps past its checkpoint
        step = record.step
        series["loss"].append(step, record.loss)
        series["learning_rate"].append(step, record.learning_rate)
        series["grad_norm"].append(step, record.grad_norm)
        series["tokens_per_second"].append(step, record.tokens_per_second)
        if record.rewards_margin is not None:
            series["rewards_margin"].append(step, record.rewards_margin)
            series["rewards_accuracy"].append(step, record.rewards_accuracy)
            if not self.margin_chart.isVisibleTo(self):
                self._show_preference_charts(True)
        if record.reward is not None:
            for name in ("reward", "reward_std", "kl", "completion_length"):
                series[name].append(step, getattr(record, name))
            for name, stats in (record.reward_parts or {}).items():
                self._reward_part(name).append(step, stats.get("mean"))
            if not self.reward_chart.isVisibleTo(self):
                self._show_reward_charts(True)
        if record.memory_allocated is not None:
            series["memory_allocated"].append(step, record.memory_allocated / GIB)
        if record.memory_peak is not None:
            series["memory_peak"].append(step, record.memory_peak / GIB)
        if record.memory_kind and record.memory_kind != self.memory_kind:
            self._set_memory_kind(record.memory_kind)
        if record.max_steps and record.max_steps != self.max_steps:
            self.set_max_steps(record.max_steps)
            if self._progress is None:
                self.progress_bar.setRange(0, record.max_steps)

    def load_records(self, records: list[MetricRecord]) -> None:
        """A replayed run: all its records at once, appended column by column."""

        def column(rows, name, scale=1.0):
            values = [getattr(r, name) for r in rows]
            keep = [i for i, v in enumerate(values) if v is not None]
            steps = np.fromiter((rows[i].step for i in keep), dtype=np.float64, count=len(keep))
            data = np.fromiter((values[i] for i in keep), dtype=np.float64, count=len(keep))
            return steps, data / scale

        train = [r for r in records if r.kind == "train"]
        evals = [r for r in records if r.kind == "eval"]
        for name in (
            "loss",
            "learning_rate",
            "grad_norm",
            "tokens_per_second",
            "rewards_margin",
            "rewards_accuracy",
            "reward",
            "reward_std",
            "kl",
            "completion_length",
        ):
            self.series[name].extend(*column(train, name))
        self._show_preference_charts(bool(len(self.series["rewards_margin"])))
        for record in train:
            for name, stats in (record.reward_parts or {}).items():
                self._reward_part(name).append(record.step, stats.get("mean"))
        self._show_reward_charts(bool(len(self.series["reward"])))
        self.series["eval_loss"].extend(*column(evals, "eval_loss"))
        self.series["memory_allocated"].extend(*column(train, "memory_allocated", GIB))
        self.series["memory_peak"].extend(*column(train, "memory_peak", GIB))
        kinds = [r.memory_kind for r in train if r.memory_kind]
        if kinds:
            self._set_memory_kind(kinds[-1])

    def set_max_steps(self, max_steps: int) -> None:
        """The run's length: every chart's step axis spans it (0: follow the data)."""
        self.max_steps = max_steps
        for chart in (self.loss_chart, *self.small_charts):
            chart.set_step_range(max_steps or None)

    def _set_memory_kind(self, kind: str) -> None:
        self.memory_kind = kind
        title = (
            "RAM, GiB (lighter: peak)"
            if kind == "cpu-rss"
            else f"{kind.upper()} memory, GiB (lighter: peak)"
        )
        self.memory_chart.getPlotItem().setTitle(title)

    def forget_after(self, step: float) -> None:
        for buffer in self.series.values():
            buffer.truncate_after(step)

    def add_advice(self, advice: Advice) -> None:
        self.advice_panel.add(advice)
        if advice.step > 0:  # start-of-run advice is about the data, not a point of the curve
            self.loss_chart.add_marker(advice)
        if advice.severity != "info":
            self.tabs.setCurrentIndex(0)

    def set_progress(self, progress: Progress) -> None:
        self._progress = progress

    def append_log(self, line: str) -> None:
        self._pending_log.append(line.rstrip("\n"))

    def set_status(self, text: str) -> None:
        self.status_label.setText(text)

    # --- drawing ------------------------------------------------------------------------
    def tick(self) -> None:
        """One timer tick: the loss chart, one of the four small charts in turn (each is
        repainted at 2.5 Hz), the progress bar and the log. Repainting five charts on every
        tick would cost the GUI thread several times more for no visible gain."""
        self.redraw(self.small_charts[self.redraws % len(self.small_charts)])

    def redraw(self, *only_small) -> None:
        """Redraw the changed curves (all small charts unless some are named), the progress
        bar and the log."""
        self.redraws += 1
        for chart in (self.loss_chart, *(only_small or self.small_charts)):
            chart.redraw()
        skipped = self.series["loss"].skipped
        if skipped:
            self.nonfinite_label.setText(f"{skipped} NaN/inf losses not drawn")
        self.nonfinite_label.setVisible(bool(skipped))
        progress = self._progress
        if progress is not None and progress is not self._progress_shown:
            self._progress_shown = progress
            maximum = max(1, progress.max_steps)
            self.progress_bar.setRange(0, maximum)
            self.progress_bar.setValue(min(progress.step, maximum))
            eta = f" · ETA {duration_text(progress.eta_s)}" if progress.eta_s is not None else ""
            # Short enough for the bar at the page's smallest width (a long one was cut);
            # epoch and time so far are in the tooltip and the status line.
            short = f"step {progress.step:,} of {progress.max_steps:,}{eta}"
            self.progress_bar.setFormat(short)
            self.progress_bar.setToolTip(
                f"{short} · epoch {progress.epoch:.2f} · {duration_text(progress.elapsed_s)} so far"
            )
        if self._pending_log:
            # Follow new lines while the user is at the end; leave them where they scrolled.
            bar = self.log_view.verticalScrollBar()
            following = bar.value() >= bar.maximum() - 2
            self.log_view.appendPlainText("\n".join(self._pending_log))
            self._pending_log.clear()
            if following:
                bar.setValue(bar.maximum())

    def set_smoothing(self, on: bool) -> None:
        self.smooth_check.setChecked(on)

    def _smoothing_changed(self, *_args) -> None:
        on = self.smooth_check.isChecked()
        self.smooth_weight.setEnabled(on)
        self.loss_chart.set_smoothing(on, self.smooth_weight.value())

    # --- controls -----------------------------------------------------------------------
    def set_controls(self, state: str) -> None:
        """idle (nothing running), running, paused or stopping."""
        live = state in ("running", "paused", "stopping")
        self.pause_button.setEnabled(state == "running")
        self.resume_button.setEnabled(state == "paused")
        self.stop_button.setEnabled(state in ("running", "paused"))
        self.run_combo.setEnabled(not live)
        self.advice_panel.set_run_live(state in ("running", "paused"))
        if live and not self.timer.isActive():
            self.timer.start()
        elif not live and self.timer.isActive():
            self.timer.stop()
            self.redraw()
        if state == "paused":
            self.redraw()  # what the run reported up to the pause, drawn now, all charts

    def finish_progress(self, steps_done: int, max_steps: int, text: str) -> None:
        self._progress_shown = self._progress  # the run's end outranks its last step
        for chart in (self.loss_chart, *self.small_charts):
            # A run that ended (failed at loading, say) waits for no first step any more.
            chart.set_empty_text("no steps recorded")
        maximum = max(1, max_steps or steps_done)
        self.progress_bar.setRange(0, maximum)
        self.progress_bar.setValue(min(steps_done, maximum))
        self.progress_bar.setFormat(text)
