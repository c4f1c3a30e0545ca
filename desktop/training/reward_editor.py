"""The reward editor: GRPO's rewards chosen from checkable presets, no code.

One row per preset (valid JSON, a JSON schema, keys and allowed values, a regular
expression, a match against the reference, a length penalty, the user's own Python file),
each with a tick, a weight and its options. The rows write the recipe's `rewards` text
(core.rewards.spec), which the dialog hands back to the Train page's form. A schema can be
offered from an eval set's reference answers. The preview scores an answer typed in at
once, or samples answers of the model the run would start from (off the GUI thread) and
scores each, so the user sees the rewards agree with them before a run is spent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.evaluation.eval_set import EvalSet, EvalSetError, load_eval_set_file
from core.evaluation.store import list_eval_sets, load_eval_set
from core.models.remote_code import trust_folder
from core.recipe.config import TrainConfig
from core.rewards.preview import Preview, score_answers
from core.rewards.schema_inference import infer_schema
from core.rewards.spec import RewardSpec, RewardSpecError, parse_spec, spec_from_items
from core.training.grpo_preview import SampledPreview, preview_rewards
from desktop.background import BackgroundTask
from desktop.theme import BAD, status_style

ERROR_STYLE = status_style(BAD)


@dataclass
class _Row:
    kind: str
    tick: QCheckBox
    weight: QDoubleSpinBox
    read: Callable[[], dict]  # the preset's options from its widgets
    fill: Callable[[dict], None]  # the widgets from options


class RewardEditor(QWidget):
    """Edits a reward spec; `spec_changed(text)` fires with the recipe text when valid."""

    spec_changed = Signal(str)
    validity_changed = Signal(bool)  # whether the ticked rows make a usable spec

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: dict[str, _Row] = {}
        self._filling = False
        self.task: BackgroundTask | None = None
        # (project, recipe) for sampling, given the editor's rewards text: the form's own
        # rewards may be the missing ones this editor is writing.
        self.config_provider: Callable[[str], tuple[object, TrainConfig]] | None = None
        # Asks a yes/no question (tests answer it themselves).
        self.confirm: Callable[[str, str], bool] = lambda title, text: (
            QMessageBox.question(self, title, text) == QMessageBox.StandardButton.Yes
        )
        # The open project, whose stored eval sets the schema can be offered from.
        self.project_provider: Callable[[], Any] | None = None
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Tick the checks a good answer passes. Each scores an answer from 0 to 1 (the "
            "length penalty from -1 to 0); the weights say how much each counts. GRPO "
            "learns from answers to the same prompt that score differently."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        presets = QGroupBox("Rewards")
        self.grid = QGridLayout(presets)
        self.grid.setColumnStretch(2, 1)
        self._add_presets()
        layout.addWidget(presets)
        self.error = QLabel()
        self.error.setObjectName("rewardError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.hide()
        layout.addWidget(self.error)
        self.text_view = QLabel()
        self.text_view.setObjectName("rewardText")
        self.text_view.setWordWrap(True)
        self.text_view.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text_view.setToolTip("What the run's config.yaml stores as `rewards`")
        layout.addWidget(self.text_view)
        layout.addWidget(self._preview_box(), 1)
        self._changed()

    # --- the presets -----------------------------------------------------------------
    def _add_row(self, kind: str, title: str, tip: str, options: QWidget | None, read, fill):
        tick = QCheckBox(title)
        tick.setObjectName(f"reward_{kind}")
        tick.setToolTip(tip)
        weight = QDoubleSpinBox()
        weight.setObjectName(f"weight_{kind}")
        weight.setRange(0.0, 100.0)
        weight.setSingleStep(0.5)
        weight.setValue(1.0)
        weight.setPrefix("weight ")
        weight.setToolTip("How much this reward counts in the total (0 turns it off)")
        row = self.grid.rowCount()
        self.grid.addWidget(tick, row, 0)
        self.grid.addWidget(weight, row, 1)
        if options is not None:
            options.setToolTip(tip)
            self.grid.addWidget(options, row, 2)
        tick.toggled.connect(self._changed)
        weight.valueChanged.connect(self._changed)
        self.rows[kind] = _Row(kind, tick, weight, read, fill)

    def _line(self, name: str, placeholder: str) -> QLineEdit:
        line = QLineEdit()
        line.setObjectName(name)
        line.setPlaceholderText(placeholder)
        line.textEdited.connect(self._changed)
        return line

    def _add_presets(self) -> None:
        self._add_row(
            "valid_json",
            "Valid JSON",
            "1 when the whole answer is a JSON object or array",
            None,
            dict,
            lambda options: None,
        )
        # JSON schema: the schema as text, offered from an eval set's references.
        self.schema_edit = QPlainTextEdit()
        self.schema_edit.setObjectName("schemaText")
        self.schema_edit.setPlaceholderText('{"type": "object", "required": ["category"]}')
        self.schema_edit.setFixedHeight(64)
        self.schema_edit.textChanged.connect(self._changed)
        offer = QPushButton("Offer from an eval set")
        offer.setObjectName("offerSchema")
        offer.setToolTip(
            "Read an eval set's reference answers (one of this project's, or a JSONL file) "
            "and offer the schema they share: required keys, each key's type, and the values "
            "of label-like keys"
        )
        self.offer_menu = QMenu(offer)
        self.offer_menu.aboutToShow.connect(self._fill_offer_menu)
        offer.setMenu(self.offer_menu)
        self.offer_button = offer
        self.schema_note = QLabel()
        self.schema_note.setWordWrap(True)
        schema_box = QWidget()
        column = QVBoxLayout(schema_box)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.schema_edit)
        line = QHBoxLayout()
        line.addWidget(offer)
        line.addStretch(1)
        column.addLayout(line)
        column.addWidget(self.schema_note)

        def read_schema() -> dict:
            text = self.schema_edit.toPlainText().strip()
            try:
                return {"schema": json.loads(text) if text else None}
            except ValueError as error:
                raise RewardSpecError(f"JSON schema: the schema is not JSON ({error})") from None

        def fill_schema(options: dict) -> None:
            self.schema_edit.setPlainText(json.dumps(options.get("schema")))

        self._add_row(
            "json_schema",
            "JSON schema",
            "1 when the answer validates against the schema; 0.25 for other JSON; 0 for text",
            schema_box,
            read_schema,
            fill_schema,
        )
        # Keys and allowed values.
        keys_box = QWidget()
        form = QFormLayout(keys_box)
        form.setContentsMargins(0, 0, 0, 0)
        self.required_edit = self._line("requiredKeys", "category, priority")
        self.allowed_edit = self._line(
            "allowedValues", "priority: low, medium, high; category: billing, account"
        )
        form.addRow("Required keys", self.required_edit)
        form.addRow("Allowed values", self.allowed_edit)

        def read_keys() -> dict:
            allowed = {}
            for part in self.allowed_edit.text().split(";"):
                if not part.strip():
                    continue
                key, sep, values = part.partition(":")
                if not sep:
                    raise RewardSpecError(
                        f"Allowed values: write key: value, value (got {part.strip()!r})"
                    )
                allowed[key.strip()] = [v.strip() for v in values.split(",") if v.strip()]
            required = [k.strip() for k in self.required_edit.text().split(",") if k.strip()]
            return {"required": required, "allowed": allowed}

        def fill_keys(options: dict) -> None:
            required = options.get("required") or []
            self.required_edit.setText(
                ", ".join([required] if isinstance(required, str) else required)
            )
            allowed = options.get("allowed") or {}
            self.allowed_edit.setText(
                "; ".join(
                    f"{k}: {', '.join(v if isinstance(v, list) else [v])}"
                    for k, v in allowed.items()
                )
            )

        self._add_row(
            "keys",
            "Keys and values",
            "The share of checks passed: each required key present, each listed key holding "
            "one of its allowed values",
            keys_box,
            read_keys,
            fill_keys,
        )
        # Regex.
        regex_box = QWidget()
        line = QHBoxLayout(regex_box)
        line.setContentsMargins(0, 0, 0, 0)
        self.pattern_edit = self._line("regexPattern", r"^\{.*\}$")
        self.full_check = QCheckBox("whole answer")
        self.full_check.setChecked(True)
        self.full_check.toggled.connect(self._changed)
        line.addWidget(self.pattern_edit, 1)
        line.addWidget(self.full_check)
        self._add_row(
            "regex",
            "Regular expression",
            "1 when the pattern matches (the whole answer, or anywhere in it); a match that "
            "runs too long counts as no match",
            regex_box,
            lambda: {"pattern": self.pattern_edit.text(), "full": self.full_check.isChecked()},
            lambda o: (
                self.pattern_edit.setText(o.get("pattern", "")),
                self.full_check.setChecked(bool(o.get("full", True))),
            ),
        )
        # Reference match.
        self.field_edit = self._line("matchField", "a JSON field, e.g. category (empty: all)")

        def read_match() -> dict:
            field = self.field_edit.text().strip()
            return {"field": field} if field else {}

        self._add_row(
            "reference_match",
            "Matches the reference",
            "Agreement with the data's answer: one JSON field (e.g. the label), or every "
            "field of a JSON answer, or the whole text of a short answer",
            self.field_edit,
            read_match,
            lambda o: self.field_edit.setText(o.get("field", "")),
        )
        # Length penalty.
        self.max_chars = QSpinBox()
        self.max_chars.setObjectName("maxChars")
        self.max_chars.setRange(1, 100_000)
        self.max_chars.setValue(400)
        self.max_chars.setSuffix(" characters")
        self.max_chars.valueChanged.connect(self._changed)
        self._add_row(
            "length_penalty",
            "Length penalty",
            "0 up to this length, then down to -1 at twice it: keeps answers from growing",
            self.max_chars,
            lambda: {"max_chars": self.max_chars.value()},
            lambda o: self.max_chars.setValue(int(o.get("max_chars", 400))),
        )
        # The user's own file: chosen with Browse…, run only once its folder is trusted
        # (here with a question, or by `finetune-studio models trust FOLDER`).
        self.file_edit = self._line("rewardFile", "a .py file with reward(answer, reference)")
        browse = QPushButton("Browse…")
        browse.setToolTip("Choose the .py file with your function reward(answer, reference)")
        browse.clicked.connect(self._choose_reward_file)
        self.trust_button = QPushButton("Trust its folder…")
        self.trust_button.setObjectName("trustRewardFolder")
        self.trust_button.setToolTip(
            "Allow the Python files of this file's folder to run, as they are now (an edit "
            "asks again). Only for code you wrote or trust where it came from"
        )
        self.trust_button.clicked.connect(self.trust_reward_folder)
        self.trust_button.hide()
        file_box = QWidget()
        file_row = QHBoxLayout(file_box)
        file_row.setContentsMargins(0, 0, 0, 0)
        file_row.addWidget(self.file_edit, 1)
        file_row.addWidget(browse)
        file_row.addWidget(self.trust_button)
        self._add_row(
            "python",
            "Your own Python",
            "A function reward(answer, reference) -> float in your file. It runs only after "
            "you trust its folder (Trust its folder…, or finetune-studio models trust FOLDER)",
            file_box,
            lambda: {"file": self.file_edit.text().strip()},
            lambda o: self.file_edit.setText(o.get("file", "")),
        )

    def _choose_reward_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Your reward function", "", "Python files (*.py);;All files (*)"
        )
        if path:
            self.file_edit.setText(path)
            self.rows["python"].tick.setChecked(True)
            self._changed()

    def trust_reward_folder(self) -> bool:
        """Ask, then trust the reward file's folder (as a model folder's own code is)."""
        folder = Path(self.file_edit.text().strip()).expanduser().resolve().parent
        question = (
            f"Allow the Python code in {folder} to run? Your reward file is imported from "
            "there during the preview and the run. Allow it only if you wrote it or trust "
            "where it came from; an edited file asks again."
        )
        if not self.confirm("Trust this folder's code?", question):
            return False
        try:
            trust_folder(folder)
        except (OSError, ValueError) as error:
            self._show_error(str(error))
            return False
        self._changed()
        return True

    # --- the spec ----------------------------------------------------------------------
    def items(self) -> list[dict]:
        """The ticked rows as spec items (RewardSpecError for unreadable options)."""
        items = []
        for kind, row in self.rows.items():
            if not row.tick.isChecked():
                continue
            item = {"kind": kind, **row.read()}
            if row.weight.value() != 1.0:
                item["weight"] = row.weight.value()
            items.append(item)
        return items

    def spec(self) -> RewardSpec:
        return spec_from_items(self.items())

    def spec_text(self) -> str:
        """The recipe's `rewards` text for the ticked rows; RewardSpecError when wrong."""
        return self.spec().to_text()

    def set_spec_text(self, text: str) -> None:
        """Fill the rows from a recipe's rewards (rows not in it are unticked)."""
        self._filling = True
        try:
            for row in self.rows.values():
                row.tick.setChecked(False)
            if text.strip():
                for term in parse_spec(text).terms:
                    row = self.rows[term.kind]
                    row.tick.setChecked(True)
                    row.weight.setValue(term.weight)
                    row.fill(term.options)
        except RewardSpecError as error:
            self._show_error(str(error))
            self.validity_changed.emit(False)
            return
        finally:
            self._filling = False
        self._changed()

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def _changed(self, *_args) -> None:
        if self._filling:
            return
        self.trust_button.hide()
        try:
            if not self.items():
                raise RewardSpecError("Tick at least one reward.")
            text = self.spec_text()
        except RewardSpecError as error:
            self._show_error(str(error))
            self.text_view.setText("")
            self.validity_changed.emit(False)
            # Untrusted code: the way out is a button here, not only a command to type.
            self.trust_button.setVisible(
                self.rows["python"].tick.isChecked() and "trust its folder" in str(error)
            )
            return
        self._show_error("")
        self.validity_changed.emit(True)
        self.text_view.setText(f"<b>rewards:</b> <code>{_escape(text)}</code>")
        self.spec_changed.emit(text)

    # --- schema from an eval set ---------------------------------------------------------
    def _fill_offer_menu(self) -> None:
        """The project's stored eval sets (a new user's are there, not in a file they know),
        then a file."""
        self.offer_menu.clear()
        project = self.project_provider() if self.project_provider is not None else None
        stored = list_eval_sets(project) if project is not None else []
        for eval_set in stored:
            action = self.offer_menu.addAction(
                f"{eval_set.name} ({eval_set.n_examples:,} examples)"
            )
            action.triggered.connect(
                lambda _checked=False, i=eval_set.id: self.offer_schema_from_stored(project, i)
            )
        if stored:
            self.offer_menu.addSeparator()
        self.offer_menu.addAction("From a JSONL file…").triggered.connect(self._choose_eval_set)

    def offer_schema_from_stored(self, project, eval_set_id: int) -> bool:
        """Put the schema the project's stored eval set's references share into the row."""
        eval_set = load_eval_set(project, eval_set_id)
        return self._offer_schema(eval_set, eval_set.name)

    def _choose_eval_set(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Eval set with reference answers", "", "JSONL files (*.jsonl);;All files (*)"
        )
        if path:
            self.offer_schema_from(path)

    def offer_schema_from(self, path: str | Path) -> bool:
        """Put the schema the eval set's references share into the schema row."""
        try:
            eval_set = load_eval_set_file(path)
        except (EvalSetError, OSError) as error:
            self.schema_note.setText(str(error))
            return False
        return self._offer_schema(eval_set, Path(path).name)

    def _offer_schema(self, eval_set: EvalSet, name: str) -> bool:
        references = [example.reference for example in eval_set.examples]
        schema = infer_schema(references)
        if schema is None:
            self.schema_note.setText(
                f"{name}: fewer than half of the references are JSON objects; no schema to offer."
            )
            return False
        self.schema_edit.setPlainText(json.dumps(schema))
        self.rows["json_schema"].tick.setChecked(True)
        n = sum(r is not None for r in references)
        self.schema_note.setText(f"offered from {n} reference answers of {name}")
        return True

    # --- preview --------------------------------------------------------------------------
    def _preview_box(self) -> QGroupBox:
        box = QGroupBox("Preview")
        layout = QVBoxLayout(box)
        row = QHBoxLayout()
        self.answer_edit = QPlainTextEdit()
        self.answer_edit.setObjectName("previewAnswer")
        self.answer_edit.setPlaceholderText("An answer to score, as the model might write it")
        self.answer_edit.setMaximumHeight(60)
        self.reference_edit = QLineEdit()
        self.reference_edit.setObjectName("previewReference")
        self.reference_edit.setPlaceholderText("its reference answer (for Matches the reference)")
        row.addWidget(self.answer_edit, 2)
        column = QVBoxLayout()
        column.addWidget(self.reference_edit)
        buttons = QHBoxLayout()
        self.score_button = QPushButton("Score this answer")
        self.score_button.setToolTip("Score the answer above with the ticked rewards (instant)")
        self.score_button.clicked.connect(self.score_typed_answer)
        self.sample_button = QPushButton("Sample the model's answers")
        self.sample_button.setToolTip(
            "Load the model the run starts from, write two answers to each of the first "
            "four prompts of the training data and score them (takes a while)"
        )
        self.sample_button.clicked.connect(self.sample_model_answers)
        buttons.addWidget(self.score_button)
        buttons.addWidget(self.sample_button)
        column.addLayout(buttons)
        row.addLayout(column, 1)
        layout.addLayout(row)
        self.preview_status = QLabel("Score an answer, or sample the model's own answers.")
        self.preview_status.setObjectName("previewStatus")
        self.preview_status.setWordWrap(True)
        layout.addWidget(self.preview_status)
        self.table = QTableWidget(0, 0)
        self.table.setObjectName("previewTable")
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setMinimumHeight(110)
        layout.addWidget(self.table, 1)
        return box

    def score_typed_answer(self) -> Preview | None:
        try:
            spec = self.spec()
        except RewardSpecError as error:
            self.preview_status.setText(str(error))
            return None
        reference = self.reference_edit.text() or None
        preview = score_answers(spec, [("typed", self.answer_edit.toPlainText(), reference)])
        self.show_preview(preview)
        return preview

    def show_preview(self, preview: Preview, note: str = "") -> None:
        names = list(preview.names)
        headers = ["Prompt", "Answer", *names, "Total"]
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(preview.answers))
        for i, answer in enumerate(preview.answers):
            values = [
                answer.prompt[:80],
                answer.answer[:200],
                *(f"{answer.scores[n]:.2f}" for n in names),
                f"{answer.total:.2f}",
            ]
            for j, value in enumerate(values):
                item = QTableWidgetItem(value)
                if j < 2:
                    item.setToolTip((answer.prompt, answer.answer)[j][:2000])
                self.table.setItem(i, j, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.preview_status.setText(note or preview.summary())

    def sample_model_answers(self) -> None:
        if self.config_provider is None or (self.task and self.task.is_running()):
            return
        try:
            rewards = self.spec_text()
            project, config = self.config_provider(rewards)
            config = config.replace(stage="grpo", rewards=rewards)
        except (RewardSpecError, ValueError) as error:
            self.preview_status.setText(str(error))
            return
        self.sample_button.setEnabled(False)
        self.preview_status.setText(f"loading {config.base_model} and sampling answers…")
        self.task = BackgroundTask(lambda report, cancelled: preview_rewards(project, config), self)
        self.task.succeeded.connect(self._sampled)
        self.task.failed.connect(self._sample_failed)
        self.task.finished.connect(lambda: self.sample_button.setEnabled(True))
        self.task.start()

    def _sampled(self, sampled: SampledPreview) -> None:
        self.show_preview(sampled.preview, sampled.summary())

    def _sample_failed(self, message: str) -> None:
        self.preview_status.setText(f"Could not sample answers: {message}")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class RewardEditorDialog(QDialog):
    """The editor in a dialog: OK hands back the recipe text."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("GRPO rewards")
        self.resize(900, 860)
        layout = QVBoxLayout(self)
        self.editor = RewardEditor()
        layout.addWidget(self.editor, 1)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.editor.validity_changed.connect(self.ok_button.setEnabled)
        self.editor.set_spec_text(text)

    def text(self) -> str:
        return self.editor.spec_text()

    def done(self, result: int) -> None:
        if self.editor.task is not None and self.editor.task.is_running():
            self.editor.task.cancel()
            self.editor.task.wait()
        super().done(result)
