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
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.dataset.versions import PREFERENCE_KIND, list_versions
from core.figures import count_text
from core.handoff import SettingsForTrain, TrainConfigForEstimate
from core.methods import METHODS
from core.models.registry import list_base_models
from core.recipe.config import (
    CPU_PRESET,
    PRESETS,
    TrainConfig,
    TrainConfigError,
    apply_preset,
    default_config,
)
from core.runs.record import RunState, list_runs
from core.runs.replay import ReplayedRun
from core.training.advice_actions import action_for
from core.training.continuing import continue_config, why_not_resumable
from core.training.device import offered_devices
from core.training.observer import FAILED, FINISHED, PAUSED, STOPPED, STOPPING, RunResult
from core.training.preflight import step_timing
from core.training.project_settings import load_train_settings, save_train_settings
from core.training.status_text import result_text, status_line
from desktop.background import BackgroundTask
from desktop.context import AppContext
from desktop.models.picker import attach_model_picker
from desktop.theme import ACCENT, BAD, status_style
from desktop.training.config_form import ConfigForm
from desktop.training.estimate_box import EstimateBox
from desktop.training.host import TrainingHost
from desktop.training.monitor import RunMonitor
from desktop.training.plan_panel import RunPlanPanel
from desktop.training.preflight_check import PreflightCheck
from desktop.training.preset_bar import PresetBar
from desktop.training.run_replay import RunReplay, show_replayed_run

STOP_WAIT_S = 600.0  # a big model's final save can take minutes; the GUI stays live meanwhile
PRIMARY_STYLE = (
    f"QPushButton {{ background: {ACCENT}; color: white; padding: 7px 18px; border-radius: 4px;"
    " font-weight: 600; } QPushButton:disabled { background: palette(mid); }"
)


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
        # The window asks every page (confirm_close), then calls can_close, which asks too:
        # a Yes is remembered for that one close, so the user is asked once.
        self._stop_agreed = False
        self.last_result: RunResult | None = None
        self._versions: dict[str, object] = {}
        self._model_paths: dict[str, Path | None] = {}
        # Pre-flight's button, progress, verdict and "Use: ..." buttons (preflight_check.py).
        self.preflight = PreflightCheck(self)
        self.preflight.apply_changes.connect(lambda changes: self.form.set_values(changes))
        self.preflight.measured.connect(self._preflight_measured)
        self.preflight.finished.connect(self._update_start_controls)
        self.preflight_button = self.preflight.button
        self.preflight_busy = self.preflight.busy
        self.preflight_label = self.preflight.label
        # A past run's curves, advice and log, read off the GUI thread (run_replay.py).
        self.replay = RunReplay(self)
        self.replay.loaded.connect(self._show_loaded_run)
        self.replay.failed.connect(
            lambda message: self.monitor.set_status(f"Could not load: {message}")
        )
        self._shown_run_id = ""
        self._paused = False
        self._closing = False  # set while the window waits for a stopping run

        self.form = ConfigForm(self)
        self.form.project_provider = lambda: self.context.project
        # The picker (desktop/models): every model on this machine, and Hub downloads.
        attach_model_picker(
            self.form.editors["base_model"].editor, lambda: self.context.project, self._model_picked
        )
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
        self._estimate_timer.timeout.connect(self.save_settings)
        self.form.changed.connect(self._form_changed)
        self.form.changed.connect(self.plan_panel.schedule_update)
        self._connect_host()
        self._connect_monitor()
        self._shortcuts()
        context.project_changed.connect(self.set_project)
        # What changed elsewhere shows here at once: a version saved on the Dataset page,
        # a run finished or deleted (on the Runs page, or by the CLI in this project).
        context.events.version_saved.connect(self._versions_changed)
        context.events.runs_changed.connect(self._runs_changed)
        app = QApplication.instance()
        if app is not None:  # last line of defence: never let Qt destroy a running thread
            app.aboutToQuit.connect(self._shutdown_quietly)
        self.form.set_choices("device", offered_devices(context.hardware))
        self.refresh()
        self.restore_settings()

    def set_project(self, _project) -> None:
        self.refresh()
        self.restore_settings()
        self._show_preflight("", None)
        self.preflight_label.hide()

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
        self.preset_bar = PresetBar()
        self.preset_bar.chosen.connect(self.apply_preset)
        self.preset_buttons = self.preset_bar.buttons
        column.addWidget(self.preset_bar)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.form.widget)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        column.addWidget(scroll, 1)

        self.estimate_box = EstimateBox()
        self.estimate_box.open_in_estimate.connect(self._open_in_estimate)
        self.estimate_label = self.estimate_box.estimate_label
        self.estimate_details = self.estimate_box.estimate_details
        self.open_estimate_button = self.estimate_box.open_estimate_button
        column.addWidget(self.estimate_box)
        # The run plan before Start (steps, warmup, first learning rate, time, warnings).
        self.plan_panel = RunPlanPanel(lambda: self.context.project, self.form.config)
        self.plan_panel.apply_changes.connect(self._apply_plan_changes)
        self.plan_panel.advice_action.connect(self.apply_advice)
        column.addWidget(self.plan_panel)

        preflight_row = QHBoxLayout()
        self.preflight_button.clicked.connect(self._preflight_clicked)
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
        column.addWidget(self.preflight_label)
        column.addLayout(self.preflight.suggestion_row)
        self.start_hint = QLabel()
        self.start_hint.setObjectName("startHint")
        self.start_hint.setWordWrap(True)
        self.start_hint.setStyleSheet(status_style(BAD))
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
    def _model_picked(self, model) -> None:
        self.refresh()  # a model just downloaded joins the list
        self.form.editors["base_model"].set(model.name)

    def refresh(self, *_args) -> None:
        project = self.context.project
        models = []
        self._model_paths = {}
        for model in list_base_models(project, hub_cache=True):
            if model.source == "bundled":
                text = f"{model.name} (bundled)"
            elif model.source == "hub":
                text = f"{model.name} (Hugging Face cache)"
            else:
                text = f"{model.name} ({model.path})"
            models.append((text, model.name))
            self._model_paths[model.name] = model.path
        self.form.set_base_models(models)
        self.refresh_versions()
        self.refresh_runs()
        self.update_estimate()

    def refresh_versions(self, *_args) -> None:
        """Offer the project's dataset versions (a version just saved among them)."""
        versions = list_versions(self.context.project, kind=None)  # chat and preference data
        self._versions = {str(v.id): v for v in versions}
        self.form.set_dataset_versions(
            [
                (
                    f"{v.dataset} {v.label} · {v.n_train:,} train, {v.n_valid:,} validation"
                    + (" preference pairs (DPO)" if v.kind == PREFERENCE_KIND else ""),
                    str(v.id),
                )
                for v in reversed(versions)
            ],
            "none: use the training file below" if versions else "none saved yet (Dataset page)",
        )

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
        # A DPO or GRPO stage may continue a finished LoRA run's adapter.
        self.form.set_start_from_runs(
            [
                (f"{run.name} ({run.run_id})", run.run_id)
                for run in runs
                if run.status == RunState.FINISHED and METHODS[run.method].trains_adapters
            ]
        )
        self._update_continue_button()
        self._show_latest_run()

    def _versions_changed(self, _version_id: str) -> None:
        self.refresh_versions()
        self.update_estimate()

    def _runs_changed(self, _run_id: str) -> None:
        if not self.host.is_busy():  # during a run the list is filled when it ends
            self.refresh_runs()

    def _show_latest_run(self) -> None:
        """With no run chosen, a visible page shows the newest run (after a restart too),
        never "No run yet" while runs exist."""
        combo = self.monitor.run_combo
        if (
            self.isVisible()
            and combo.currentIndex() < 0
            and combo.count()
            and combo.itemData(0)
            and not self.host.is_busy()
            and self._replay_task is None
        ):
            combo.setCurrentIndex(0)  # shows it (_run_chosen)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._show_latest_run()

    def closeEvent(self, event) -> None:
        self._cancel_replay()  # the window's can_close stops a run; a replay just ends
        super().closeEvent(event)

    # --- the form ---------------------------------------------------------------------------
    def apply_preset(self, name: str) -> None:
        preset = CPU_PRESET if name == CPU_PRESET.name else PRESETS[name]
        base = self.form.config() or TrainConfig()
        changed = apply_preset(base, name)
        self.form.set_values({k: getattr(changed, k) for k in preset.changes})
        self.context.show_status(f"Preset: {preset.label}. {preset.description}")

    # --- settings kept per project ------------------------------------------------------
    def restore_settings(self) -> None:
        """The project's last Train settings; a new project starts from this machine's
        defaults (the CPU preset without a CUDA GPU)."""
        project = self.context.project
        has_cuda = bool(self.context.hardware is not None and self.context.hardware.has_cuda)
        config = default_config(has_cuda)
        note = ""
        try:
            config = load_train_settings(project) or config
        except TrainConfigError as error:
            note = f"The saved Train settings could not be used ({error}); defaults shown."
        self.form.set_config(config)
        self.plan_panel.restored(config)  # the saved settings stay; new data gets its defaults
        self._estimate_timer.stop()  # restoring is not an edit: nothing to save back
        self.update_estimate()
        if note:
            self.context.show_status(note, 10_000)

    def save_settings(self) -> bool:
        """Keep the form's settings in the project (only valid ones; atomic in SQLite), where
        `finetune-studio train --project DIR` finds them too."""
        project = self.context.project
        config = self.form.config()
        if project is None or config is None:
            return False
        save_train_settings(project, config)
        return True

    def _form_changed(self) -> None:
        self.start_hint.hide()
        self._estimate_timer.start()

    def update_estimate(self) -> None:
        config = self.form.config()
        version = self._versions.get(config.dataset_version.strip()) if config else None
        path = self._model_paths.get(config.base_model) if config else None
        self.estimate_box.show_estimate(config, version, path, self.context.hardware)

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
    def _preflight_clicked(self) -> None:
        if self.preflight.task is not None:
            self.cancel_preflight()
        else:
            self.run_preflight()

    def run_preflight(self) -> None:
        if self.preflight.task is not None or self.host.is_busy():
            return
        config = self._checked_config()
        if config is None:
            return
        self.save_settings()
        self.start_button.setEnabled(False)
        self.preflight.start(self.context.project, config)

    def cancel_preflight(self) -> None:
        self.preflight.cancel()

    @property
    def _preflight_task(self) -> BackgroundTask | None:
        return self.preflight.task

    def _preflight_measured(self, report) -> None:
        self.plan_panel.set_timing(step_timing(report))

    def _show_preflight(self, text: str, fits: bool | None) -> None:
        self.preflight.show_result(text, fits)

    # --- running ----------------------------------------------------------------------------
    def start(self) -> bool:
        """Start a run with the form's settings; False (and the reason shown) if it cannot."""
        if self.host.is_busy() or self._preflight_task is not None or self._closing:
            return False
        config = self._checked_config()
        if config is None:
            return False
        self.save_settings()
        self._begin(config, None)
        return True

    def continue_run(self) -> bool:
        """Resume the chosen run from its last checkpoint; False (and why) if it cannot."""
        run_id = self.monitor.run_combo.currentData() or ""
        if not run_id or self.host.is_busy() or self._preflight_task is not None or self._closing:
            return False
        why = self._why_not_resumable(run_id)
        if why:
            self.monitor.set_status(why)
            return False
        self._begin(self._continue_config(run_id), run_id)
        return True

    def _continue_config(self, run_id: str) -> TrainConfig | None:
        return continue_config(self.context.project, run_id, self.form.config())

    def _why_not_resumable(self, run_id: str) -> str:
        return why_not_resumable(self.context.project, run_id)

    def _begin(self, config: TrainConfig | None, resume_run: str | None) -> None:
        self._cancel_replay()
        if resume_run is None:
            self.monitor.reset()
            self._shown_run_id = ""
        self.last_result = None
        self._paused = False
        # A pre-flight verdict (red or green) was for the settings before this run.
        self._show_preflight("", None)
        self.start_hint.hide()
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
        self.monitor.set_status(status_line(state, message))
        if state == PAUSED:
            self._paused = True
            self.monitor.set_controls("paused")
        elif state == STOPPING:
            self.monitor.set_controls("stopping")
        elif state == "training" and not self._paused:
            self.monitor.set_controls("running")

    def _on_finished(self, result: RunResult) -> None:
        self.last_result = result
        self.monitor.set_status(result_text(result))
        bad = result.status == FAILED or (result.reason or "").startswith("Out of memory")
        style = status_style(BAD) if bad else ""
        self.monitor.status_label.setStyleSheet(style)
        steps = (
            f" · {result.steps_done:,} of {count_text(result.max_steps, 'step')}"
            if result.max_steps
            else ""
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

    def _update_start_controls(self, running: bool | None = None) -> None:
        busy = self.host.is_busy() if running is None else running
        idle = not busy and self._preflight_task is None
        self.start_button.setEnabled(idle)
        # While pre-flight runs, its button is the way to cancel it.
        self.preflight_button.setEnabled(not busy and not self.preflight.cancelling)
        for button in self.preset_buttons.values():
            button.setEnabled(not busy)
        self._update_continue_button()

    def _apply_plan_changes(self, changes: dict, said: str) -> None:
        self.form.set_values(changes)
        self.context.show_status(said, 8000)

    # --- advice -----------------------------------------------------------------------------
    def apply_advice(self, advice) -> None:
        """Do what the advisor suggests: stop the run, and/or set up the next one."""
        action = action_for(advice, self.form.config())
        if action.open_page:
            self.context.navigate(action.open_page)
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
        self._shown_run_id = run_id
        self.monitor.set_status(f"Loading {run_id}…")
        self.replay.load(self.context.project, run_id)

    def _show_loaded_run(self, loaded: ReplayedRun) -> None:
        if self.host.is_busy():
            return  # a run started meanwhile; its live curves win
        run = loaded.run
        why_not = self._why_not_resumable(run.run_id) if run.status != FINISHED else ""
        show_replayed_run(self.monitor, loaded, why_not)

    @property
    def _replay_task(self) -> BackgroundTask | None:
        return self.replay.task

    def _cancel_replay(self) -> None:
        self.replay.cancel()

    def _update_continue_button(self) -> None:
        run_id = self.monitor.run_combo.currentData() or ""
        if not run_id:
            why = "No run chosen: pick a stopped, failed or interrupted run above."
        elif self.host.is_busy():
            why = "A run is training; continue another one when it has ended."
        else:
            why = self._why_not_resumable(run_id)
        button = self.monitor.continue_button
        button.setEnabled(not why)
        button.setToolTip(
            why
            or "Resume this run from its last checkpoint (a run that ran out of memory "
            "continues with the memory settings now on the left)"
        )

    # --- other pages and closing -------------------------------------------------------
    def _open_in_estimate(self) -> None:
        config = self.form.config()
        if config is None:
            self.context.show_status("Fix the settings marked in red first.")
            return
        self.context.navigate("estimate", TrainConfigForEstimate(config.as_dict()))

    def receive(self, handoff) -> None:
        """Settings from the Estimate page, or the Runs page's "Train next": a past run's
        settings with new data, and that run shown."""
        if not isinstance(handoff, SettingsForTrain):
            return
        if self.host.is_busy():
            self.context.show_status("A run is training; stop it before starting another.")
            return
        self.refresh()  # a version or model added on another page since
        settings = {k: v for k, v in handoff.settings.items() if k in self.form.editors}
        if settings:
            self.form.set_values(settings)
        run_id = handoff.like_run_id
        if run_id:
            self.refresh_runs(select=run_id)
            self.show_run(run_id)
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
        self.plan_panel.wait()
        if not self.host.is_busy():
            return True
        agreed = self.confirm_close()
        self._stop_agreed = False
        if not agreed:
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
        """Stop the run and close? Asks nothing when no run trains (quitting then is not
        a question about training), and only once per close."""
        if not self.host.is_busy() or self._stop_agreed:
            return True
        answer = QMessageBox.question(
            self,
            "Stop the training run?",
            "A run is training. Stop it and close? A checkpoint is saved, so you can "
            "continue the run later from the Train page.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        self._stop_agreed = answer == QMessageBox.StandardButton.Yes
        return self._stop_agreed

    def _shutdown_quietly(self) -> None:
        if self.host.is_busy():
            self.host.shutdown(STOP_WAIT_S)
