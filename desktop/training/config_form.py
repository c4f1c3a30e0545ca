"""The training settings form, generated from TrainConfig's fields and their metadata.

Each field gets an editor chosen by its type (check box, drop-down for `choices`, spin
box for whole numbers, text for numbers and names), its `label`, its `help` as the
tooltip, and a place under it for the validation message. The form never validates on
its own: it hands the raw values to TrainConfig, which says which field is wrong and why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.methods import ADAPTER_METHODS, METHODS
from core.recipe.config import (
    INT_MAX,
    TrainConfig,
    TrainConfigError,
    config_fields,
)
from core.recipe.vocabularies import ALL_LINEAR, is_all_linear, parse_targets
from core.rewards.spec import RewardSpecError, parse_spec
from desktop.theme import BAD, status_style
from desktop.training.elided_line import ElidedLineEdit
from desktop.training.reward_editor import RewardEditorDialog

PERCENT_FIELDS = ("memory_stop_available_percent", "memory_stop_rss_percent")
# Placeholders are short enough for the form's column; the field's help (its tooltip,
# from core/recipe/config.py) says the rest.
FLOAT_PLACEHOLDERS = {"learning_rate": "auto (2e-4 LoRA, 2e-5 full)"}
FILE_PLACEHOLDERS = {
    "train_file": "a .jsonl file, or a version above",
    "validation_file": "optional: a .jsonl file",
}
# LoRA targets: the default in words, and lists people commonly pick instead.
ALL_LINEAR_LABEL = "all linear layers"
ALL_LINEAR_TIP = (
    "all-linear: every linear layer but the output head, whatever this model calls them "
    "(and the experts of a mixture of experts)"
)
TARGET_EXAMPLES = ("q_proj, k_proj, v_proj, o_proj", "q_proj, v_proj")
# Rarely changed: folded away until the user opens them.
FOLDED_GROUPS = ("Monitoring",)
ERROR_STYLE = status_style(BAD) + " font-size: 11px;"


def float_text(value: float) -> str:
    """A number as short as it reads ("2e-05", "0.1", "3") yet exact: the form gives back
    the very value it was given."""
    text = f"{value:g}"
    return text if float(text) == value else repr(float(value))


@dataclass
class FieldEditor:
    """One field's editor: the widget in the form, how to read and set it, its error label."""

    name: str
    widget: QWidget  # what the form shows (may hold a browse button beside the editor)
    editor: QWidget  # the control itself (tests type into it)
    get: Callable[[], Any]
    set: Callable[[Any], None]
    error: QLabel


class ConfigForm(QObject):
    """Builds the group boxes; `changed` fires on every edit (validation runs after it).

    `groups` and `skip` choose the fields shown (the Estimate page shows the method,
    memory, training and LoRA groups); the fields not shown keep the values last set, so
    the form always stands for a whole recipe and gives back exactly what it was given.
    """

    changed = Signal()

    def __init__(
        self,
        parent: QWidget | None = None,
        groups: tuple[str, ...] | None = None,
        skip: frozenset[str] = frozenset(),
        folded: tuple[str, ...] = FOLDED_GROUPS,
    ) -> None:
        super().__init__(parent)
        self._folded = folded
        self.editors: dict[str, FieldEditor] = {}
        self.groups: dict[str, QGroupBox] = {}
        self.errors: dict[str, str] = {}
        self.general_error = ""
        # Reasons a run gave when it refused these settings (hold_error): {field: (message,
        # the field's value then)}. Validation does not find them, so it would clear them.
        self._held: dict[str, tuple[str, Any]] = {}
        self.defaults = TrainConfig()
        self._base_models: list[tuple[str, str]] = []  # (shown text, value)
        self._versions: list[tuple[str, str]] = []
        self._loading = False
        # The open project, for the reward preview's data (the Train page sets it).
        self.project_provider: Callable[[], Any] = lambda: None
        # Problems only the project can tell (a dataset version of the wrong kind for the
        # stage): {field: message}, shown and blocking Start like TrainConfig's own.
        self.check_values: Callable[[dict[str, Any]], dict[str, str]] = lambda _values: {}
        # The values of the fields without an editor here (all of them are in a recipe).
        self._hidden: dict[str, Any] = {}
        self.widget = QWidget()
        layout = QVBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        forms: dict[str, QFormLayout] = {}
        for spec in config_fields():
            group = spec.metadata["group"]
            if (groups is not None and group not in groups) or spec.name in skip:
                self._hidden[spec.name] = getattr(self.defaults, spec.name)
                continue
            if group not in forms:
                forms[group] = self._add_group(layout, group)
            editor = self._make_editor(spec)
            self.editors[spec.name] = editor
            label = QLabel(spec.metadata["label"])
            label.setToolTip(spec.metadata["help"])
            label.setBuddy(editor.editor)
            forms[group].addRow(label, editor.widget)
        layout.addStretch(1)
        self.set_config(self.defaults)
        self._update_enabled()

    # --- building -----------------------------------------------------------------
    def _add_group(self, layout: QVBoxLayout, title: str) -> QFormLayout:
        box = QGroupBox()
        box.setObjectName(f"group_{title}")
        outer = QVBoxLayout(box)
        outer.setContentsMargins(10, 4, 10, 8)
        header = QToolButton()
        header.setText(title)
        header.setCheckable(True)
        header.setChecked(title not in self._folded)
        header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        header.setStyleSheet("QToolButton { border: none; font-weight: 600; }")
        header.setToolTip(f"Show or hide the {title.lower()} settings")
        body = QWidget()
        form = QFormLayout(body)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        def fold(opened: bool) -> None:
            header.setArrowType(Qt.ArrowType.DownArrow if opened else Qt.ArrowType.RightArrow)
            body.setVisible(opened)

        header.toggled.connect(fold)
        fold(header.isChecked())
        outer.addWidget(header)
        outer.addWidget(body)
        layout.addWidget(box)
        self.groups[title] = box
        box.setProperty("fold_button", header)
        return form

    def _make_editor(self, spec: dataclasses.Field) -> FieldEditor:
        name, meta = spec.name, spec.metadata
        default = getattr(self.defaults, name)
        if name == "base_model":
            control, get, set_ = self._model_combo()
        elif name in ("dataset_version", "start_from"):  # a choice among the project's own
            control, get, set_ = self._version_combo()
        elif name == "lora_target_modules":
            control, get, set_ = self._targets_combo()
        elif meta.get("choices"):
            control = QComboBox()
            control.addItems(list(meta["choices"]))
            control.currentTextChanged.connect(self._edited)

            def set_(value, box=control):
                box.setCurrentIndex(max(0, box.findText(str(value))))

            get = control.currentText
        elif isinstance(default, bool):
            control = QCheckBox()
            control.toggled.connect(self._edited)
            get = control.isChecked

            def set_(value, box=control):
                box.setChecked(bool(value))
        elif isinstance(default, int):
            control = QSpinBox()
            # The recipe's own bounds (TrainConfig's metadata), so no value out of them
            # can be typed.
            control.setRange(meta.get("min", 0), meta.get("max", INT_MAX))
            control.setGroupSeparatorShown(True)
            if meta.get("zero") and meta.get("min", 0) == 0:
                control.setSpecialValueText(meta["zero"])  # what 0 means: auto, off ...
            if name in PERCENT_FIELDS:
                control.setSuffix(" %")
            control.valueChanged.connect(self._edited)
            get = control.value

            def set_(value, box=control):
                box.setValue(int(value))
        elif isinstance(default, list):
            control = QLineEdit()
            control.setPlaceholderText("comma-separated names")
            control.textEdited.connect(self._edited)

            def get(box=control):
                return box.text()

            def set_(value, box=control):
                box.setText(", ".join(value) if isinstance(value, list) else str(value))
        elif isinstance(default, float):
            control = QLineEdit()
            control.setPlaceholderText(FLOAT_PLACEHOLDERS.get(name, ""))
            control.textEdited.connect(self._edited)
            optional = name in FLOAT_PLACEHOLDERS

            def get(box=control, optional=optional):
                text = box.text().strip()
                return 0.0 if optional and not text else text

            def set_(value, box=control, optional=optional):
                box.setText("" if optional and value == 0 else float_text(value))
        else:
            # A reward spec is long: its start shows, elided, the whole in the tooltip.
            control = ElidedLineEdit(meta["help"]) if name == "rewards" else QLineEdit()
            control.textEdited.connect(self._edited)
            get = control.text

            def set_(value, box=control):
                box.setText(str(value))

        if not isinstance(control, ElidedLineEdit):  # that one adds its value to the tooltip
            control.setToolTip(meta["help"])
        control.setObjectName(f"field_{name}")
        widget: QWidget = control
        if name in FILE_PLACEHOLDERS:
            control.setPlaceholderText(FILE_PLACEHOLDERS[name])
            widget = self._with_browse(control, name)
        elif name == "rewards":
            control.setPlaceholderText("none yet: press Edit…")
            widget = self._with_reward_editor(control)
        elif name == "name":
            control.setPlaceholderText("automatic: method, model and date")
        error = QLabel()
        error.setObjectName(f"error_{name}")
        error.setWordWrap(True)
        error.setStyleSheet(ERROR_STYLE)
        error.hide()
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(1)
        column.addWidget(widget)
        column.addWidget(error)
        return FieldEditor(name, holder, control, get, set_, error)

    def _with_reward_editor(self, line: QLineEdit) -> QWidget:
        """GRPO's rewards: the recipe text, and Edit… for the reward editor dialog."""
        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(line, 1)
        button = QPushButton("Edit…")
        button.setObjectName("editRewards")
        button.setToolTip("Choose checkable rewards, their weights, and preview their scores")
        self.reward_button = button

        def edit() -> None:
            dialog = RewardEditorDialog(line.text(), self.widget)
            dialog.editor.config_provider = self.reward_preview_source
            dialog.editor.project_provider = self.project_provider
            if dialog.exec() == RewardEditorDialog.DialogCode.Accepted:
                line.setText(dialog.text())
                self._edited()

        button.clicked.connect(edit)
        row.addWidget(button)
        return holder

    def reward_preview_source(self, rewards: str):
        """(project, recipe) for the reward preview, with the editor's rewards: the form's
        own may be the missing ones the editor is writing (a new GRPO recipe has none)."""
        try:
            config = TrainConfig(**{**self.values(), "stage": "grpo", "rewards": rewards})
        except TrainConfigError as error:
            raise ValueError(f"Fix the Train page's settings first: {error}") from None
        return self.project_provider(), config

    def _with_browse(self, line: QLineEdit, name: str) -> QWidget:
        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(line, 1)
        button = QPushButton("…")
        button.setFixedWidth(30)
        button.setToolTip("Choose a JSONL file")

        def browse() -> None:
            path, _ = QFileDialog.getOpenFileName(
                self.widget, "Choose a JSONL file", line.text(), "JSON Lines (*.jsonl);;All (*)"
            )
            if path:
                line.setText(path)
                self._edited()

        button.clicked.connect(browse)
        row.addWidget(button)
        return holder

    def _targets_combo(self):
        """LoRA targets: "all linear layers" (PEFT's all-linear) shown as the default,
        a few common name lists, or any names typed in."""
        combo = QComboBox()
        combo.setEditable(True)
        combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        combo.lineEdit().setPlaceholderText("all-linear, or comma-separated layer names")
        combo.addItem(ALL_LINEAR_LABEL, ALL_LINEAR)
        combo.setItemData(0, ALL_LINEAR_TIP, Qt.ItemDataRole.ToolTipRole)
        for names in TARGET_EXAMPLES:
            combo.addItem(names, names)
        combo.currentTextChanged.connect(self._edited)

        def get() -> str:
            text = combo.currentText().strip()
            return ALL_LINEAR if text == ALL_LINEAR_LABEL else text

        def set_(value) -> None:
            names = value if isinstance(value, list) else parse_targets(str(value))
            if is_all_linear(names):
                combo.setCurrentIndex(0)
            else:
                combo.setCurrentText(", ".join(names))

        return combo, get, set_

    def _model_combo(self):
        combo = QComboBox()
        combo.setEditable(True)  # a Hugging Face folder path may be typed or pasted
        combo.lineEdit().setPlaceholderText("a model name or folder")
        combo.currentTextChanged.connect(self._edited)
        # The list is as wide as its longest entry (set_base_models) and the box shows a
        # long name's start (set_), where it would cut it.

        def get() -> str:
            index = combo.findText(combo.currentText())
            if index >= 0 and combo.itemData(index):
                return str(combo.itemData(index))
            return combo.currentText().strip()

        def set_(value) -> None:
            for index in range(combo.count()):
                if combo.itemData(index) == value:
                    combo.setCurrentIndex(index)
                    break
            else:
                combo.setEditText(str(value))
            combo.lineEdit().setCursorPosition(0)  # the name's start, not its cut-off end

        return combo, get, set_

    def _version_combo(self):
        combo = QComboBox()
        combo.currentIndexChanged.connect(self._edited)

        def get() -> str:
            return str(combo.currentData() or "")

        def set_(value) -> None:
            index = combo.findData(str(value)) if value else 0
            if index < 0:  # a label such as "v3" from a saved config
                index = next(
                    (i for i in range(combo.count()) if combo.itemText(i).endswith(f" {value}")),
                    -1,
                )
            if index < 0 and value:
                combo.addItem(f"{value} (not in this project)", str(value))
                index = combo.count() - 1
            combo.setCurrentIndex(max(0, index))

        return combo, get, set_

    # --- choices from the project ----------------------------------------------------
    def set_base_models(self, models: list[tuple[str, str]]) -> None:
        """(shown text, value) pairs; the current choice is kept."""
        current = self.editors["base_model"].get()
        combo: QComboBox = self.editors["base_model"].editor
        self._loading = True
        combo.clear()
        for text, value in models:
            combo.addItem(text, value)
        widest = max((combo.fontMetrics().horizontalAdvance(t) for t, _ in models), default=0)
        combo.view().setMinimumWidth(widest + 48)
        self.editors["base_model"].set(current)
        self._loading = False
        self.validate()

    def set_dataset_versions(self, versions: list[tuple[str, str]], note: str = "") -> None:
        current = self.editors["dataset_version"].get()
        combo: QComboBox = self.editors["dataset_version"].editor
        self._loading = True
        combo.clear()
        combo.addItem(note or "none: use the training file below", "")
        for text, value in versions:
            combo.addItem(text, value)
        self.editors["dataset_version"].set(current)
        self._loading = False
        self.validate()

    def set_start_from_runs(self, runs: list[tuple[str, str]]) -> None:
        """(shown text, run id) of the finished LoRA runs a stage can continue."""
        current = self.editors["start_from"].get()
        combo: QComboBox = self.editors["start_from"].editor
        self._loading = True
        combo.clear()
        combo.addItem("the base model", "")
        for text, value in runs:
            combo.addItem(text, value)
        self.editors["start_from"].set(current)
        self._loading = False
        self.validate()

    def set_choices(self, name: str, choices: list[str]) -> None:
        """Offer only these choices for a drop-down field (the devices this machine has);
        a current value that is no longer offered falls back to the first choice."""
        combo: QComboBox = self.editors[name].editor
        current = combo.currentText()
        self._loading = True
        combo.clear()
        combo.addItems(list(choices))
        combo.setCurrentIndex(max(0, combo.findText(current)))
        self._loading = False
        self.validate()

    # --- values -----------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        shown = {name: editor.get() for name, editor in self.editors.items()}
        return {**self._hidden, **shown}

    def set_values(self, values: dict[str, Any]) -> None:
        self._loading = True
        for name, value in values.items():
            if name in self.editors:
                self.editors[name].set(value)
            elif name in self._hidden:
                self._hidden[name] = value
        self._loading = False
        self._edited()

    def set_config(self, config: TrainConfig) -> None:
        self.set_values(config.as_dict())

    def config(self) -> TrainConfig | None:
        """The settings as a TrainConfig, or None while a field is wrong (see `errors`)."""
        self.validate()
        if self.errors or self.general_error:
            return None
        return TrainConfig(**self.values())

    def validate(self) -> dict[str, str]:
        """Every wrong field, as TrainConfig reports them (all at once)."""
        errors: dict[str, str] = {}
        general = ""
        values = self.values()
        try:
            TrainConfig(**values)
        except TrainConfigError as error:
            errors = dict(error.problems)
        if values.get("stage") == "grpo" and "rewards" not in errors:
            try:  # the run would stop on these before loading the model: say it here
                parse_spec(str(values.get("rewards", "")), load_code=False)
            except RewardSpecError as error:
                errors["rewards"] = str(error)
        for name, message in self.check_values(values).items():
            errors.setdefault(name, message)
        self.errors, self.general_error = errors, general
        self._held = {
            name: held for name, held in self._held.items() if values.get(name) == held[1]
        }
        for name, editor in self.editors.items():
            message = errors.get(name) or self._held.get(name, ("", None))[0]
            editor.error.setText(message)
            editor.error.setVisible(bool(message))
        return errors

    def show_error(self, name: str, message: str) -> None:
        """An error found elsewhere (no data chosen, pre-flight) shown at its field."""
        editor = self.editors.get(name)
        if editor is None:
            self.general_error = message
            return
        self.errors[name] = message
        editor.error.setText(message)
        editor.error.show()

    def hold_error(self, name: str, message: str) -> None:
        """A run's reason for refusing these settings, kept at its field through later
        validations (the plan, the estimate, saving, a list refilled) until that field's
        value changes or release_held() (a new start). It does not block config(): the same
        settings may be tried again (the data may have been fixed on disk)."""
        editor = self.editors[name]
        self._held[name] = (message, editor.get())
        editor.error.setText(message)
        editor.error.show()

    def release_held(self) -> None:
        """Drop the held reasons (a run starts: it will give its own)."""
        if self._held:
            self._held = {}
            self.validate()

    def focus(self, name: str) -> None:
        editor = self.editors[name]
        for box in self.groups.values():
            if box.isAncestorOf(editor.editor):
                box.property("fold_button").setChecked(True)
        editor.editor.setFocus()

    # --- reacting -----------------------------------------------------------------------
    def _edited(self, *_args) -> None:
        if self._loading:
            return
        self._update_enabled()
        self.validate()
        self.changed.emit()

    def _update_enabled(self) -> None:
        method = self.values()["method"]
        adapters = method in ADAPTER_METHODS
        box = self.groups.get("LoRA")
        if box is not None:
            box.setEnabled(adapters)
            box.setToolTip(
                "" if adapters else f"LoRA settings apply to {', '.join(ADAPTER_METHODS)}."
            )
        for name in ("quant_type", "double_quant"):
            if name in self.editors:
                self.editors[name].editor.setEnabled(METHODS[method].quantized_bits == 4)
        dpo = self.values().get("stage") == "dpo"
        for name in ("dpo_beta", "dpo_loss_type"):  # DPO's own settings, for a DPO run only
            if name in self.editors:
                self.editors[name].editor.setEnabled(dpo)
        grpo = self.values().get("stage") == "grpo"
        box = self.groups.get("GRPO")  # GRPO's own settings, for a GRPO run only
        if box is not None:
            box.setEnabled(grpo)
            box.setToolTip("" if grpo else "GRPO settings apply when the stage is grpo.")
        if "dataset_version" not in self.editors:
            return
        uses_version = bool(self.editors["dataset_version"].get())
        for name in ("train_file", "validation_file"):
            self.editors[name].widget.setEnabled(not uses_version)
        # The hold-out applies only when the training file must give up its own examples.
        has_validation = uses_version or bool(self.editors["validation_file"].get().strip())
        self.editors["validation_fraction"].editor.setEnabled(not has_validation)
