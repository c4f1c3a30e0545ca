"""The Train page: settings and presets, the estimate, pre-flight and Start on the left; the
live monitor of the run (or a replayed past run) on the right.

A thin composition: the widgets beside this file do the work (run_control.py starts,
pauses and stops the run and hosts its thread; run_list.py picks and replays past runs;
form_sources.py lists models and dataset versions; kept_settings.py keeps the form's
settings per project; preflight_check.py, plan_panel.py, estimate_box.py, preset_bar.py,
config_form.py, monitor.py); this page builds them and wires them to each other and to
the project's events.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from core.handoff import SettingsForTrain, TrainConfigForEstimate
from core.recipe.config import find_preset
from core.training.advice_actions import action_for
from core.training.device import offered_devices
from core.training.preflight import step_timing
from desktop.context import AppContext
from desktop.training.config_form import ConfigForm
from desktop.training.estimate_box import EstimateBox
from desktop.training.form_sources import FormSources
from desktop.training.kept_settings import KeptSettings
from desktop.training.monitor import RunMonitor
from desktop.training.plan_panel import RunPlanPanel
from desktop.training.preflight_check import PreflightCheck
from desktop.training.preset_bar import PresetBar
from desktop.training.run_control import RunControl
from desktop.training.run_list import RunList
from desktop.training.settings_splitter import SettingsSplitter


def create_page(context: AppContext) -> QWidget:
    return TrainingPage(context)


class TrainingPage(QWidget):
    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        project = lambda: self.context.project
        self.form = ConfigForm(self)
        self.form.project_provider = project
        self.sources = FormSources(self.form, project, self)
        self.settings = KeptSettings(self.form, context, self)
        self.monitor = RunMonitor()
        self.preset_bar = PresetBar()
        self.estimate_box = EstimateBox()
        self.open_estimate_button = self.estimate_box.open_estimate_button
        # The run plan before Start (steps, warmup, first learning rate, time, warnings).
        self.plan_panel = RunPlanPanel(project, self.form.config)
        self.preflight = PreflightCheck(self)
        self.run_control = RunControl(self, self.form, self.monitor, project)
        self.run_control.others_busy = lambda: self.preflight.task is not None
        self.host = self.run_control.host
        self.run_list = RunList(self.monitor, project, self.host.is_busy, self)
        self._lay_out()
        self._wire()
        self.form.set_choices("device", offered_devices(context.hardware))
        self.refresh()
        self.settings.restore()

    def _lay_out(self) -> None:
        panel = QWidget()
        panel.setMinimumWidth(380)
        panel.setMaximumWidth(560)
        column = QVBoxLayout(panel)
        column.setContentsMargins(0, 0, 8, 0)
        column.setSpacing(8)
        title = QLabel("Train")
        title.setStyleSheet("font-size: 22px; font-weight: 600;")
        intro = QLabel(
            "Fine-tune a base model on a dataset version and watch training and "
            "validation loss as it goes. Hover a setting for what it does."
        )
        intro.setWordWrap(True)
        intro.setStyleSheet("color: palette(placeholder-text);")
        # The estimate and the plan below the form, a drag apart (the form keeps the room).
        self.form_splitter = SettingsSplitter(
            self.form.widget, [self.estimate_box, self.plan_panel]
        )
        for widget, stretch in (
            (title, 0),
            (intro, 0),
            (self.preset_bar, 0),
            (self.form_splitter, 1),
        ):
            column.addWidget(widget, stretch)
        row = QHBoxLayout()
        row.addWidget(self.preflight.button)
        row.addWidget(self.preflight.busy)
        row.addStretch(1)
        row.addWidget(self.run_control.start_button)
        column.addLayout(row)
        column.addWidget(self.preflight.label)
        column.addLayout(self.preflight.suggestion_row)
        column.addWidget(self.run_control.start_hint)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(panel)
        splitter.addWidget(self.monitor)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([500, 730])  # the form's names and placeholders whole at 1280
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 12)
        layout.addWidget(splitter)

    def _wire(self) -> None:
        form, preflight, runs, control = self.form, self.preflight, self.run_list, self.run_control
        form.changed.connect(lambda: control.hint(""))
        form.changed.connect(self.plan_panel.schedule_update)
        self.settings.rested.connect(self.update_estimate)
        # Restored settings stay as saved; data chosen after this gets its defaults.
        self.settings.restored.connect(self.plan_panel.restored)
        self.settings.restored.connect(self.update_estimate)
        self.sources.changed.connect(self.update_estimate)
        self.preset_bar.chosen.connect(self.apply_preset)
        self.estimate_box.open_in_estimate.connect(self._open_in_estimate)
        self.plan_panel.apply_changes.connect(self._apply_changes)
        self.plan_panel.advice_action.connect(self.apply_advice)
        self.monitor.advice_panel.action_requested.connect(self.apply_advice)
        preflight.button.clicked.connect(
            lambda: preflight.cancel() if preflight.task is not None else self.run_preflight()
        )
        preflight.apply_changes.connect(form.set_values)
        preflight.measured.connect(lambda report: self.plan_panel.set_timing(step_timing(report)))
        preflight.finished.connect(self._update_controls)
        runs.adapter_sources.connect(form.set_start_from_runs)
        self.monitor.continue_button.clicked.connect(self.continue_run)
        control.started.connect(lambda resumed: resumed or self.settings.save())
        control.started.connect(runs.live_run_started)
        # A pre-flight verdict (red or green) was for the settings before this run.
        control.started.connect(lambda _resumed: preflight.show_result("", None))
        control.started.connect(self._update_controls)
        control.identified.connect(runs.live_run_identified)
        control.ended.connect(runs.live_run_ended)
        control.ended.connect(self._update_controls)
        self.context.project_changed.connect(self.set_project)
        # What changed elsewhere shows here at once: a version saved on the Dataset page,
        # a run finished or deleted (on the Runs page, or by the CLI in this project).
        self.context.events.version_saved.connect(self.sources.refresh_versions)
        self.context.events.runs_changed.connect(runs.runs_changed)

    def set_project(self, _project) -> None:
        self.refresh()
        self.settings.restore()
        self.preflight.show_result("", None)
        self.preflight.label.hide()

    # --- the project's models, dataset versions and runs ------------------------------------
    def refresh(self, *_args) -> None:
        self.sources.refresh()
        self.run_list.refresh()

    def closeEvent(self, event) -> None:
        # The window's can_close stops a run; a replay just ends, a plan being read is let end.
        self.run_list.replay.cancel()
        self.plan_panel.wait()
        super().closeEvent(event)

    # --- the form: presets, the estimate, changes asked for by the plan and advice ----------
    def apply_preset(self, name: str) -> None:
        preset = find_preset(name)
        self.form.set_values(preset.changes)
        self.context.show_status(preset.status_text)

    def update_estimate(self) -> None:
        config, sources = self.form.config(), self.sources
        self.estimate_box.show_estimate(
            config, sources.version(config), sources.model_path(config), self.context.hardware
        )

    def _apply_changes(self, changes: dict, said: str) -> None:
        self.form.set_values(changes)
        self.context.show_status(said, 8000)

    def apply_advice(self, advice) -> None:
        """Do what the advisor suggests: stop the run, and/or set up the next one."""
        action = action_for(advice, self.form.config())
        if action.open_page:
            self.context.navigate(action.open_page)
        if action.stop_reason:
            self.run_control.stop(action.stop_reason)
        if action.changes:
            said = ", ".join(f"{k} = {v}" for k, v in action.changes.items())
            self._apply_changes(action.changes, f"Set for the next run: {said}")

    # --- pre-flight and running ------------------------------------------------------------
    def run_preflight(self) -> None:
        if self.preflight.task is not None or self.host.is_busy():
            return
        config = self.run_control.checked_config()
        if config is None:
            return
        self.settings.save()
        self.run_control.start_button.setEnabled(False)
        self.preflight.start(self.context.project, config)

    def continue_run(self) -> bool:
        """Resume the chosen run from its last checkpoint; False (and why) if it cannot."""
        return self.run_control.continue_run(self.run_list.chosen())

    def _update_controls(self, *_args) -> None:
        busy = self.host.is_busy()
        self.run_control.start_button.setEnabled(not busy and self.preflight.task is None)
        # While pre-flight runs, its button is the way to cancel it.
        self.preflight.button.setEnabled(not busy and not self.preflight.cancelling)
        for button in self.preset_bar.buttons.values():
            button.setEnabled(not busy)
        self.run_list.update_continue_button()

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
            self.run_list.refresh(select=run_id)
            self.run_list.show_run(run_id)
            self.context.show_status(
                f"The settings of {run_id} with the new data: check them and press Start (F5).",
                10_000,
            )
            self.run_control.start_button.setFocus()
        elif settings:
            self.context.show_status("Settings received: " + ", ".join(settings))

    def can_close(self) -> bool:
        """Called when the window closes: background checks end; a run is asked about,
        then stopped and waited for."""
        for task in (self.preflight.task, self.run_list.replay.task):
            if task is not None:
                task.cancel()
                task.wait()
        self.plan_panel.wait()
        return self.run_control.can_close()
