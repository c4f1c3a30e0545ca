"""The Train page's "Plan for this data" box: the run plan before Start, kept up to date.

It reads and tokenizes the chosen data off the GUI thread (core.training.run_plan), shows
optimizer steps, tokens per step, warmup and the first step's learning rate, the time once
pre-flight has measured a step, and the advisor's warnings before Start, each with its fix.
When the user picks other data, the data's defaults (enough optimizer steps) are applied
to the form at once, with the reasons shown.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QGroupBox, QLabel, QPushButton, QVBoxLayout, QWidget

from core.decide.store import load_decision
from core.recipe.config import TrainConfig, TrainConfigError
from core.runs.records import Advice
from core.training.advisor import Goal, advice_before_start
from core.training.chat_tokens import ChatTemplateError
from core.training.conversations import TrainingDataError
from core.training.run_plan import DataPlan, StepTiming, plan_for_project, read_lengths
from desktop.background import BackgroundTask
from desktop.theme import BAD, WARNING, status_color, status_style

PLAN_ERRORS = (TrainConfigError, TrainingDataError, ChatTemplateError, OSError)
# What the data is: a change of these reads the data again (and applies its defaults).
DATA_FIELDS = (
    "base_model",
    "dataset_version",
    "train_file",
    "validation_file",
    "validation_fraction",
    "loss_on",
    "max_seq_length",
    "seed",
)


NO_DATA = ("no data",)


def _data_key(config: TrainConfig) -> tuple:
    return tuple(getattr(config, name) for name in DATA_FIELDS)


class RunPlanPanel(QGroupBox):
    """Emits apply_changes(dict) for a fix of settings, advice_action(Advice) for the rest."""

    apply_changes = Signal(dict, str)  # TrainConfig changes, what to tell the user
    advice_action = Signal(object)
    updated = Signal()  # a plan (or why there is none) is shown

    def __init__(self, project_getter: Callable, config_getter: Callable) -> None:
        super().__init__("Plan for this data")
        self.setObjectName("runPlanBox")
        self._project = project_getter
        self._config = config_getter
        self._task: BackgroundTask | None = None
        self._pending = False
        self._data = None  # PreparedData of the last data read (tokenized)
        self._data_key: tuple = NO_DATA
        self.timing: StepTiming | None = None
        self.data_plan: DataPlan | None = None
        self.advice: list[Advice] = []
        self.apply_data_defaults = True  # a change of data applies its defaults

        layout = QVBoxLayout(self)
        self.summary = QLabel("Choose a dataset version or a training file to see the plan.")
        self.summary.setObjectName("runPlanSummary")
        self.summary.setWordWrap(True)
        self.summary.setToolTip(
            "Counted as the trainer counts: the data tokenized with the model's tokenizer, "
            "packed as TRL packs it, steps and warmup as transformers computes them."
        )
        self.reasons = QLabel()
        self.reasons.setObjectName("runPlanReasons")
        self.reasons.setWordWrap(True)
        self.reasons.setStyleSheet("color: palette(placeholder-text);")
        self.reasons.hide()
        layout.addWidget(self.summary)
        layout.addWidget(self.reasons)
        self.advice_box = QVBoxLayout()
        layout.addLayout(self.advice_box)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(300)
        self._timer.timeout.connect(self.update_plan)

    # --- inputs ---------------------------------------------------------------------------
    def schedule_update(self) -> None:
        self._timer.start()

    def set_timing(self, timing: StepTiming | None) -> None:
        """A step measured by pre-flight: the plan's time from now on."""
        self.timing = timing
        self.schedule_update()

    def restored(self, config: TrainConfig | None) -> None:
        """Settings restored (a project opened): their data is not new, so the user's saved
        settings stay as they are; data chosen after this gets its defaults."""
        self._data = None
        self._data_key = _data_key(config) if config is not None else NO_DATA
        self.timing = None
        self.reasons.hide()
        self.schedule_update()

    # --- computing ------------------------------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.schedule_update()  # changes made while another page was shown

    def update_plan(self) -> None:
        if not self.isVisible():
            return  # nothing to read for a page nobody sees; showEvent plans on return
        if self._task is not None:
            self._pending = True
            return
        config = self._config()
        if config is None:
            self._show_text("Fix the settings marked in red to see the plan.")
            return
        try:
            config.require_data()
        except TrainConfigError:
            self._data_key = NO_DATA  # the data chosen next is new data: its defaults apply
            self._show_text("Choose a dataset version or a training file to see the plan.")
            return
        project = self._project()
        key = _data_key(config)
        data = self._data if key == self._data_key else None
        new_data = key != self._data_key
        timing = self.timing
        if data is not None:
            # The data is read and tokenized already: the arithmetic is quick, done here,
            # so a change of settings shows at once and no thread is started for it.
            try:
                planned = plan_for_project(project, config, timing, data=data)
            except PLAN_ERRORS as error:
                self._failed(str(error))
                return
            self._planned(config, key, (data, planned), False)
            return

        def work(_report, _cancelled):
            read = read_lengths(project, config)
            return read, plan_for_project(project, config, timing, data=read)

        task = BackgroundTask(work, self)
        task.succeeded.connect(lambda result: self._planned(config, key, result, new_data))
        task.failed.connect(self._failed)
        task.finished.connect(self._task_finished)
        self._task = task
        self._show_text("Reading and tokenizing the data for the plan…", busy=True)
        task.start()

    def _task_finished(self) -> None:
        self._task = None
        if self._pending:
            self._pending = False
            self.update_plan()

    def wait(self, timeout_ms: int = 60_000) -> bool:
        """For closing: wait for a plan being computed."""
        return self._task.wait(timeout_ms) if self._task is not None else True

    def _failed(self, message: str) -> None:
        self._show_text(f"No plan: {message.split(': ', 1)[-1]}")

    def _planned(self, config: TrainConfig, key: tuple, result, new_data: bool) -> None:
        data, planned = result
        self._data, self._data_key = data, key
        self.data_plan = planned
        fitted = planned.fitted
        if new_data:
            if self.apply_data_defaults and fitted.changes:
                # Other data: its defaults. The form's change comes back as a new plan.
                said = f"Set from the data: {fitted.config_changes_text}"
                self.reasons.setText(
                    f"{said} ({fitted.after.optimizer_steps} optimizer steps; hover for why)"
                )
                self.reasons.setToolTip("\n".join(fitted.reasons))
                self.reasons.show()
                self.apply_changes.emit(dict(fitted.changes), said)
                return
            self.reasons.hide()
        elif fitted.changes:
            self.reasons.hide()  # the settings moved away from the data's defaults
        self._show_plan(planned, config)

    # --- showing --------------------------------------------------------------------------
    def _show_text(self, text: str, busy: bool = False) -> None:
        self.summary.setText(text)
        # What was set from the data goes with the plan: not under "Fix the settings
        # marked in red" or "Choose a dataset version", where no plan is shown.
        if not busy:
            self.reasons.hide()
        if not busy:
            self.data_plan = None
            self._set_advice([])
            self.updated.emit()

    def _show_plan(self, planned: DataPlan, config: TrainConfig) -> None:
        plan = planned.plan
        lines = plan.lines()
        self.summary.setText("\n".join(f"• {line}" for line in lines))
        color = status_color(BAD) if plan.too_few_steps else "palette(window-text)"
        self.summary.setStyleSheet(f"color: {color};")
        fitted = planned.fitted
        self._set_advice(
            advice_before_start(
                plan.optimizer_steps,
                plan.minimum_steps,
                planned.n_train,
                fitted.changes,
                fitted.after.optimizer_steps,
                self._goal(),
            )
        )
        self.updated.emit()

    def _goal(self) -> Goal | None:
        project = self._project()
        decision = load_decision(project) if project is not None else None
        if decision is None or decision.task_kind is None:
            return None
        return Goal(decision.task_kind, tuple(decision.examples_needed))

    def _set_advice(self, advice: list[Advice]) -> None:
        if [a.as_dict() for a in advice] == [a.as_dict() for a in self.advice]:
            return  # the same warnings: keep their rows (and a button the user is at)
        self.advice = advice
        while self.advice_box.count():
            item = self.advice_box.takeAt(0)
            widget = item.widget()
            if widget is not None:
                widget.hide()  # Qt deletes it when idle (it stays the panel's child until then)
                widget.deleteLater()
        for one in advice:
            row = QWidget()
            row.setObjectName(f"planAdvice_{one.kind}")
            line = QVBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            line.setSpacing(2)
            text = QLabel(f"<b>{one.title}.</b> {one.message}")
            text.setWordWrap(True)
            text.setStyleSheet(status_style(WARNING))
            line.addWidget(text)
            if one.action_label:
                button = QPushButton(one.action_label)
                button.setObjectName(f"planFix_{one.kind}")
                button.setToolTip(one.message)
                button.clicked.connect(lambda _=False, a=one: self.advice_action.emit(a))
                line.addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)
            self.advice_box.addWidget(row)
