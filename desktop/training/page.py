"""The Train page: settings and presets, the estimate, pre-flight and Start on the left; the
live monitor of the run (or a replayed past run) on the right.

The run itself lives on a QThread (desktop/training/host.py); this page only reacts to
its queued signals. Closing the window during a run asks first, then stops the run
(which saves a checkpoint) and waits for the thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.models.registry import list_base_models
from core.training.config import PRESETS, TrainConfig, TrainConfigError, apply_preset
from core.training.observer import FAILED, FINISHED, PAUSED, STOPPED, STOPPING, RunResult
from core.training.runs import list_runs, load_run
from desktop.background import BackgroundTask
from desktop.context import AppContext
from desktop.training.advice_actions import action_for
from desktop.training.config_form import ConfigForm
from desktop.training.estimate_summary import data_facts, summarize
from desktop.training.host import TrainingHost
from desktop.training.monitor import RunMonitor, format_duration
from desktop.training.replay import ReplayedRun, read_run_for_replay

STOP_WAIT_S = 600.0  # a big model's final save can take minutes; the GUI stays live meanwhile
PRIMARY_STYLE = (
    "QPushButton { background: #3b6fd8; color: white; padding: 7px 18px; border-radius: 4px;"
    " font-weight: 600; } QPushButton:disabled { background: palette(mid); }"
)
STATE_TITLES = {
    "created": "Starting",
    "preparing": "Preparing",
    "loading": "Loading the model",
    "preflight": "Pre-flight",
    "training": "Training",
    PAUSED: "Paused",
    STOPPING: "Stopping",
    "saving": "Saving",
    FINISHED: "Finished",
    STOPPED: "Stopped",
    FAILED: "Failed",
}
PRESET_SHORT_NAMES = {
    "format_or_tone": "Format, tone",
    "domain_adaptation": "Domain",
    "new_reasoning": "Reasoning",
}


def create_page(context: AppContext) -> QWidget:
    return TrainingPage(context)


def _muted(label: QLabel) -> QLabel:
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


class TrainingPage(QWidget):
    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.host = TrainingHost(self)
        # Asked when the window closes during a run; tests replace it (no modal dialogs).
        self.confirm_close: Callable[[], bool] = self._ask_to_stop
        self.last_result: RunResult | None = None
        self._versions: dict[str, object] = {}
        self._model_paths: dict[str, Path | None] = {}
        self._preflight_task: BackgroundTask | None = None
        self._replay_task: BackgroundTask | None = None
        self._shown_run_id = ""
        self._paused = False
        self._closing = False  # set while the window waits for a stopping run

        self.form = ConfigForm(self)
        self.monitor = RunMonitor()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self._setup_panel())
        splitter.addWidget(self.monitor)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([430, 800])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 12)
        layout.addWidget(splitter)

        self._estimate_timer = QTimer(self)
        self._estimate_timer.setSingleShot(True)
        self._estimate_timer.setInterval(200)
        self._estimate_timer.timeout.connect(self.update_estimate)
        self.form.changed.connect(self._form_changed)
        self._connect_host()
        self._connect_monitor()
        self._shortcuts()
        context.project_changed.connect(self.refresh)
        app = QApplication.instance()
        if app is not None:  # last line of defence: never let Qt destroy a running thread
            app.aboutToQuit.connect(self._shutdown_quietly)
        self.refresh()

    # --- building -----------------------------------------------------------------------
    def _setup_panel(self) -> QWidget:
        panel = QWidget()
        panel.setMinimumWidth(380)
        panel.setMaximumWidth(560)
        column = QVBoxLayout(panel)
        column.setContentsMargins(0, 0, 8, 0)
        column.setSpacing(8)
        title = QLabel("Train")
        title.setStyleSheet("font-size: 22px; font-weight: 600;")
        column.addWidget(title)
        column.addWidget(
            _muted(
                QLabel(
                    "Fine-tune a base model on a dataset version and watch training and "
                    "validation loss as it goes. Hover a setting for what it does."
                )
            )
        )
        presets = QHBoxLayout()
        presets.setSpacing(4)
        presets.addWidget(QLabel("Preset"))
        self.preset_buttons: dict[str, QPushButton] = {}
        for preset in PRESETS.values():
            short = PRESET_SHORT_NAMES.get(preset.name, preset.label)
            button = QPushButton(f"{short} · r {preset.changes['lora_r']}")
            button.setObjectName(f"preset_{preset.name}")
            button.setToolTip(f"{preset.label}: {preset.description}")
            button.clicked.connect(lambda _=False, name=preset.name: self.apply_preset(name))
            presets.addWidget(button)
            self.preset_buttons[preset.name] = button
        presets.addStretch(1)
        column.addLayout(presets)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.form.widget)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        column.addWidget(scroll, 1)

        estimate_box = QGroupBox("Estimate for these settings")
        estimate_layout = QVBoxLayout(estimate_box)
        self.estimate_label = QLabel("…")
        self.estimate_label.setObjectName("estimateHeadline")
        self.estimate_label.setWordWrap(True)
        self.estimate_details = _muted(QLabel())
        self.estimate_details.setObjectName("estimateDetails")
        estimate_layout.addWidget(self.estimate_label)
        estimate_layout.addWidget(self.estimate_details)
        column.addWidget(estimate_box)

        preflight_row = QHBoxLayout()
        self.preflight_button = QPushButton("Pre-flight check")
        self.preflight_button.setToolTip(
            "Run 3 real steps on the longest batch: measure peak memory and step time, and "
            "get settings that fit if it would run out of memory"
        )
        self.preflight_button.clicked.connect(self.run_preflight)
        self.preflight_busy = QProgressBar()
        self.preflight_busy.setRange(0, 0)
        self.preflight_busy.setMaximumWidth(90)
        self.preflight_busy.hide()
        preflight_row.addWidget(self.preflight_button)
        preflight_row.addWidget(self.preflight_busy)
        preflight_row.addStretch(1)
        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("startButton")
        self.start_button.setStyleSheet(PRIMARY_STYLE)
        self.start_button.setToolTip("Start a run with these settings (F5 or Ctrl+Enter)")
        self.start_button.clicked.connect(self.start)
        preflight_row.addWidget(self.start_button)
        column.addLayout(preflight_row)
        self.preflight_label = QLabel()
        self.preflight_label.setObjectName("preflightResult")
        self.preflight_label.setWordWrap(True)
        self.preflight_label.hide()
        column.addWidget(self.preflight_label)
        self.suggestion_row = QHBoxLayout()
        column.addLayout(self.suggestion_row)
        self.start_hint = QLabel()
        self.start_hint.setObjectName("startHint")
        self.start_hint.setWordWrap(True)
        self.start_hint.setStyleSheet("color: #d23f31;")
        self.start_hint.hide()
        column.addWidget(self.start_hint)
        return panel

    def _connect_host(self) -> None:
        host = self.host
        host.status.connect(self._on_status)
        host.metrics.connect(self.monitor.add_record)
        host.progress.connect(self.monitor.set_progress)
        host.advice.connect(self.monitor.add_advice)
        host.log.connect(self.monitor.append_log)
        host.finished.connect(self._on_finished)
        host.thread_finished.connect(self._on_thread_finished)

    def _connect_monitor(self) -> None:
        monitor = self.monitor
        monitor.pause_clicked.connect(self.pause)
        monitor.resume_clicked.connect(self.resume)
        monitor.stop_clicked.connect(self.stop)
        monitor.advice_panel.action_requested.connect(self.apply_advice)
        monitor.run_combo.currentIndexChanged.connect(self._run_chosen)
        monitor.continue_button.clicked.connect(self.continue_run)

    def _shortcuts(self) -> None:
        for keys, slot in (
            ("F5", self._start_or_resume),
            ("Ctrl+Return", self.start),
            ("F6", self.pause),
            ("Shift+F5", self.stop),
        ):
            QShortcut(QKeySequence(keys), self, activated=slot)

    # --- the project's models, dataset versions and runs ------------------------------------
    def refresh(self, *_args) -> None:
        project = self.context.project
        models = []
        self._model_paths = {}
        for model in list_base_models(project):
            if model.source == "bundled":
                text = f"{model.name} (bundled)"
            else:
                text = f"{model.name} ({model.path})"
            models.append((text, model.name))
            self._model_paths[model.name] = model.path
        self.form.set_base_models(models)
        try:
            from core.dataset.versions import list_versions
        except ImportError:
            self._versions = {}
            self.form.set_dataset_versions([], "dataset versions are not available here")
        else:
            versions = list_versions(project)
            self._versions = {str(v.id): v for v in versions}
            self.form.set_dataset_versions(
                [
                    (
                        f"{v.dataset} {v.label} · {v.n_train:,} train, {v.n_valid:,} validation",
                        str(v.id),
                    )
                    for v in reversed(versions)
                ],
                "none: use the training file below"
                if versions
                else "none saved yet (Dataset page)",
            )
        self.refresh_runs()
        self.update_estimate()

    def refresh_runs(self, select: str | None = None) -> None:
        combo = self.monitor.run_combo
        current = select if select is not None else (combo.currentData() or "")
        combo.blockSignals(True)
        combo.clear()
        runs = list_runs(self.context.project)
        if not runs:
            combo.addItem("no runs yet", "")
        for run in runs:
            started = (run.started_at or "")[:16].replace("T", " ")
            combo.addItem(f"{run.name} · {run.status} · {started}", run.run_id)
        index = combo.findData(current) if current else -1
        combo.setCurrentIndex(max(0, index) if current else -1 if runs else 0)
        combo.blockSignals(False)
        self._update_continue_button()

    # --- the form ---------------------------------------------------------------------------
    def apply_preset(self, name: str) -> None:
        base = self.form.config() or TrainConfig()
        changed = apply_preset(base, name)
        self.form.set_values({k: getattr(changed, k) for k in PRESETS[name].changes})
        self.context.show_status(f"Preset: {PRESETS[name].label}. {PRESETS[name].description}")

    def _form_changed(self) -> None:
        self.start_hint.hide()
        self._estimate_timer.start()

    def update_estimate(self) -> None:
        config = self.form.config()
        if config is None:
            self.estimate_label.setText("Fix the settings marked in red to see the estimate.")
            self.estimate_details.setText("")
            return
        version = self._versions.get(config.dataset_version.strip())
        try:
            facts = data_facts(config, version)
        except OSError as error:
            facts = data_facts(config.replace(train_file=""), None)
            facts.source = f"could not read the data ({error})"
        path = self._model_paths.get(config.base_model)
        if path is None and Path(config.base_model).expanduser().is_dir():
            path = Path(config.base_model).expanduser()
        summary = summarize(config, path, self.context.hardware, facts)
        color = {True: "#2e7d32", False: "#d23f31"}.get(summary.fits, "palette(window-text)")
        self.estimate_label.setText(summary.headline)
        self.estimate_label.setStyleSheet(f"color: {color};")
        self.estimate_details.setText("\n".join(summary.details))

    def _checked_config(self) -> TrainConfig | None:
        """The form's settings if a run can start with them; else say why at the field."""
        config = self.form.config()
        if config is None:
            wrong = list(self.form.errors)
            if wrong:
                self.form.focus(wrong[0])
            self._hint(
                self.form.general_error
                or f"Fix the {len(wrong)} setting{'s' if len(wrong) != 1 else ''} marked in red."
            )
            return None
        try:
            config.require_data()
        except TrainConfigError as error:
            self.form.show_error(error.field, error.message)
            self.form.focus(error.field)
            self._hint(error.message)
            return None
        return config

    def _hint(self, text: str) -> None:
        self.start_hint.setText(text)
        self.start_hint.setVisible(bool(text))

    # --- pre-flight -------------------------------------------------------------------------
    def run_preflight(self) -> None:
        if self._preflight_task is not None or self.host.is_busy():
            return
        config = self._checked_config()
        if config is None:
            return
        from core.training.preflight import run_preflight

        project = self.context.project
        task = BackgroundTask(lambda _report, _cancelled: run_preflight(project, config), self)
        task.succeeded.connect(self._preflight_done)
        task.failed.connect(
            lambda message: self._show_preflight(f"Pre-flight failed: {message}", False)
        )
        task.finished.connect(self._preflight_finished)
        self._preflight_task = task
        self.preflight_busy.show()
        self.preflight_button.setEnabled(False)
        self.start_button.setEnabled(False)
        self._show_preflight(
            "Pre-flight: loading the model and running 3 steps on the longest batch…", None
        )
        task.start()

    def _preflight_done(self, report) -> None:
        self._show_preflight(report.message, report.fits)
        for suggestion in report.suggestions:
            button = QPushButton(f"Use: {suggestion.label}")
            button.setToolTip(suggestion.reason)
            button.clicked.connect(
                lambda _=False, changes=dict(suggestion.changes): self.form.set_values(changes)
            )
            self.suggestion_row.addWidget(button)

    def _show_preflight(self, text: str, fits: bool | None) -> None:
        while self.suggestion_row.count():
            item = self.suggestion_row.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        color = {True: "#2e7d32", False: "#d23f31"}.get(fits, "palette(window-text)")
        self.preflight_label.setStyleSheet(f"color: {color};")
        self.preflight_label.setText(text)
        self.preflight_label.show()

    def _preflight_finished(self) -> None:
        self._preflight_task = None
        self.preflight_busy.hide()
        self._update_start_controls()

    # --- running ----------------------------------------------------------------------------
    def start(self) -> bool:
        """Start a run with the form's settings; False (and the reason shown) if it cannot."""
        if self.host.is_busy() or self._preflight_task is not None or self._closing:
            return False
        config = self._checked_config()
        if config is None:
            return False
        self._begin(config, None)
        return True

    def continue_run(self) -> bool:
        run_id = self.monitor.run_combo.currentData() or ""
        if not run_id or self.host.is_busy() or self._preflight_task is not None or self._closing:
            return False
        self._begin(None, run_id)
        return True

    def _begin(self, config: TrainConfig | None, resume_run: str | None) -> None:
        self._cancel_replay()
        if resume_run is None:
            self.monitor.reset()
            self._shown_run_id = ""
        self.last_result = None
        self._paused = False
        self.monitor.status_label.setStyleSheet("")
        self.monitor.set_status("Starting…")
        self.monitor.set_controls("running")
        self.form.widget.setEnabled(False)
        self._update_start_controls(running=True)
        self.host.start(self.context.project, config, resume_run=resume_run)

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
        session = self.host.session
        if session is not None and session.run_id:
            self._shown_run_id = session.run_id
        if state in (FINISHED, STOPPED, FAILED):
            return  # _on_finished says it with the result
        title = STATE_TITLES.get(state, state.title())
        if message.lower().startswith(title.lower()):  # "training from step 0" needs no title
            self.monitor.set_status(message[:1].upper() + message[1:])
        else:
            self.monitor.set_status(f"{title}: {message}")
        if state == PAUSED:
            self._paused = True
            self.monitor.set_controls("paused")
        elif state == STOPPING:
            self.monitor.set_controls("stopping")
        elif state == "training" and not self._paused:
            self.monitor.set_controls("running")

    def _on_finished(self, result: RunResult) -> None:
        self.last_result = result
        self.monitor.set_status(self.result_text(result))
        style = "color: #d23f31;" if result.status == FAILED else ""
        self.monitor.status_label.setStyleSheet(style)
        steps = (
            f" · {result.steps_done:,} of {result.max_steps:,} steps" if result.max_steps else ""
        )
        self.monitor.finish_progress(result.steps_done, result.max_steps, f"{result.status}{steps}")

    def _on_thread_finished(self) -> None:
        self._paused = False
        self.monitor.set_controls("idle")
        self.form.widget.setEnabled(True)
        self._update_start_controls()
        run_id = self.last_result.run_id if self.last_result else ""
        self._shown_run_id = run_id or self._shown_run_id
        self.refresh_runs(select=self._shown_run_id)

    @staticmethod
    def result_text(result: RunResult) -> str:
        steps = f"{result.steps_done:,} of {result.max_steps:,} steps" if result.max_steps else ""
        parts = []
        if result.status == FINISHED:
            parts.append(f"Finished: {steps} in {format_duration(result.duration_s)}.")
        elif result.status == STOPPED:
            parts.append(f"Stopped after {steps}. {result.reason}".strip())
        else:
            parts.append(f"Failed: {result.reason}")
        if result.best_val_loss is not None:
            parts.append(
                f"Best validation loss {result.best_val_loss:.4f} at step {result.best_step}."
            )
        if result.final_model_dir is not None:
            parts.append(f"Final model: {result.final_model_dir}")
        if result.status in (STOPPED, FAILED) and result.steps_done:
            parts.append("Continue run resumes it from its last checkpoint.")
        return " ".join(parts)

    def _update_start_controls(self, running: bool | None = None) -> None:
        busy = self.host.is_busy() if running is None else running
        idle = not busy and self._preflight_task is None
        self.start_button.setEnabled(idle)
        self.preflight_button.setEnabled(idle)
        for button in self.preset_buttons.values():
            button.setEnabled(not busy)
        self._update_continue_button()

    # --- advice -----------------------------------------------------------------------------
    def apply_advice(self, advice) -> None:
        """Do what the advisor suggests: stop the run, and/or set up the next one."""
        action = action_for(advice, self.form.config())
        if action.stop_reason:
            self.stop(action.stop_reason)
        if action.changes:
            self.form.set_values(action.changes)
            said = ", ".join(f"{k} = {v}" for k, v in action.changes.items())
            self.context.show_status(f"Set for the next run: {said}", 8000)

    # --- replaying a past run -----------------------------------------------------------
    def _run_chosen(self, _index: int) -> None:
        run_id = self.monitor.run_combo.currentData() or ""
        self._update_continue_button()
        if not run_id or self.host.is_busy() or run_id == self._shown_run_id:
            return
        self.show_run(run_id)

    def show_run(self, run_id: str) -> None:
        """Load a finished or past run's curves, advice and log (off the GUI thread)."""
        self._cancel_replay()
        project = self.context.project

        def load(_report, _cancelled):
            return read_run_for_replay(project, run_id)

        task = BackgroundTask(load, self)
        task.succeeded.connect(self._show_loaded_run)
        task.failed.connect(lambda message: self.monitor.set_status(f"Could not load: {message}"))
        task.finished.connect(self._replay_finished)
        self._replay_task = task
        self._shown_run_id = run_id
        self.monitor.set_status(f"Loading {run_id}…")
        task.start()

    def _show_loaded_run(self, loaded: ReplayedRun) -> None:
        run = loaded.run
        if self.host.is_busy():
            return  # a run started meanwhile; its live curves win
        monitor = self.monitor
        monitor.reset()
        for chart in (monitor.loss_chart, *monitor.small_charts):
            chart.set_empty_text("no steps recorded")
        monitor.load_records(loaded.records)
        monitor.set_max_steps(max(run.max_steps or 0, loaded.last_step))
        for item in loaded.advice:
            monitor.add_advice(item)
        monitor.log_view.setPlainText(loaded.log)
        monitor.finish_progress(
            run.steps_done, run.max_steps, f"{run.status} · {run.steps_done:,} steps"
        )
        best = (
            f" Best validation loss {run.best_val_loss:.4f} at step {run.best_step}."
            if run.best_val_loss is not None
            else ""
        )
        reason = f" {run.reason}" if run.reason else ""
        monitor.status_label.setStyleSheet("color: #d23f31;" if run.status == FAILED else "")
        monitor.set_status(
            f"{run.name}: {run.status} after {run.steps_done:,} steps, "
            f"{format_duration(run.duration_s)} ({run.method} on {run.device or 'unknown device'})."
            f"{best}{reason}"
        )
        monitor.redraw()

    def _replay_finished(self) -> None:
        self._replay_task = None

    def _cancel_replay(self) -> None:
        task = self._replay_task
        if task is not None:
            task.cancel()
            task.wait()
            self._replay_task = None

    def _update_continue_button(self) -> None:
        run_id = self.monitor.run_combo.currentData() or ""
        resumable = False
        if run_id and not self.host.is_busy():
            try:
                resumable = load_run(self.context.project, run_id).resumable
            except Exception:
                resumable = False
        self.monitor.continue_button.setEnabled(resumable)

    # --- other pages and closing -------------------------------------------------------
    def receive(self, payload) -> None:
        """Settings from another page, by TrainConfig field ({"dataset_version": "12",
        "lora_r": 8, ...}), and maybe a run to show ({"run_id": ...}). The Runs page's
        "train next" sends a past run's settings with new data and action "train_like"."""
        if not isinstance(payload, dict):
            return
        if self.host.is_busy():
            self.context.show_status("A run is training; stop it before starting another.")
            return
        self.refresh()  # a version or model added on another page since
        settings = {k: v for k, v in payload.items() if k in self.form.editors}
        if settings:
            self.form.set_values(settings)
        run_id = payload.get("run_id")
        if run_id:
            self.refresh_runs(select=run_id)
            self.show_run(run_id)
        if payload.get("action") == "train_like":
            self.context.show_status(
                f"The settings of {run_id} with the new data: check them and press Start (F5).",
                10_000,
            )
            self.start_button.setFocus()
        elif settings:
            self.context.show_status("Settings received: " + ", ".join(settings))

    def can_close(self) -> bool:
        """Called when the window closes: ask during a run, then stop it and wait."""
        for task in (self._preflight_task, self._replay_task):
            if task is not None:
                task.cancel()
                task.wait()
        if not self.host.is_busy():
            return True
        if not self.confirm_close():
            return False
        self.monitor.set_status("Stopping the run and saving a checkpoint before closing…")
        # The GUI keeps running while we wait; nothing on this page may start meanwhile.
        self._closing = True
        self.setEnabled(False)
        try:
            if self.host.shutdown(STOP_WAIT_S):
                return True
        finally:
            self._closing = False
            self.setEnabled(True)
        self.monitor.set_status("The run is still saving; close again in a moment.")
        return False

    def _ask_to_stop(self) -> bool:
        answer = QMessageBox.question(
            self,
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
