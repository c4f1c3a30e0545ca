"""The small dialogs of the Dataset page: save a version, find and replace, one system prompt.

Each dialog only collects values; the page's parts (version_saving.py, bulk_actions.py) do
the work, so tests call those.
"""

from __future__ import annotations

from dataclasses import fields

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from core.dataset.split import SplitConfig


def _help(cls, name: str) -> str:
    return next(f.metadata.get("help", "") for f in fields(cls) if f.name == name)


class SaveVersionDialog(QDialog):
    def __init__(
        self, parent: QWidget, name: str, name_editable: bool, next_label: str, note: str
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Save as {next_label}")
        layout = QVBoxLayout(self)
        intro = QLabel(
            f"Saving keeps an unchangeable copy, {next_label}, with its own train/validation split, "
            "so every training run records exactly what it learned from."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.name_edit = QLineEdit(name)
        self.name_edit.setEnabled(name_editable)
        self.name_edit.setToolTip("The dataset's name; versions of one dataset share it")
        form.addRow("Dataset name", self.name_edit)
        self.note_edit = QPlainTextEdit(note)
        self.note_edit.setPlaceholderText(
            "What changed, e.g. “fixed the refund replies, +20 examples”"
        )
        self.note_edit.setMaximumHeight(90)
        form.addRow("Note", self.note_edit)
        self.valid_box = QDoubleSpinBox()
        self.valid_box.setRange(0, 50)
        self.valid_box.setSuffix(" %")
        self.valid_box.setDecimals(0)
        self.valid_box.setValue(SplitConfig().valid_fraction * 100)
        self.valid_box.setToolTip(_help(SplitConfig, "valid_fraction"))
        form.addRow("Held out for validation", self.valid_box)
        self.stratify_box = QCheckBox("Hold out the same share of each tag")
        self.stratify_box.setToolTip(_help(SplitConfig, "stratify_by_tag"))
        form.addRow("", self.stratify_box)
        layout.addLayout(form)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def values(self) -> tuple[str, str, SplitConfig]:
        split = SplitConfig(
            valid_fraction=self.valid_box.value() / 100,
            stratify_by_tag=self.stratify_box.isChecked(),
        )
        return self.name_edit.text().strip(), self.note_edit.toPlainText().strip(), split


class FindReplaceDialog(QDialog):
    def __init__(self, parent: QWidget, find: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Find and replace in assistant replies")
        layout = QVBoxLayout(self)
        hint = QLabel(
            "Changes every assistant reply in the dataset (user and system messages stay "
            "as they are). One Ctrl+Z undoes it all."
        )
        hint.setWordWrap(True)
        layout.addWidget(hint)
        form = QFormLayout()
        self.find_edit = QLineEdit(find)
        self.replace_edit = QLineEdit()
        self.case_box = QCheckBox("Match case")
        self.case_box.setChecked(True)
        self.words_box = QCheckBox("Whole words only")
        form.addRow("Find", self.find_edit)
        form.addRow("Replace with", self.replace_edit)
        form.addRow("", self.case_box)
        form.addRow("", self.words_box)
        layout.addLayout(form)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Replace all")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def values(self) -> tuple[str, str, bool, bool]:
        return (
            self.find_edit.text(),
            self.replace_edit.text(),
            self.case_box.isChecked(),
            self.words_box.isChecked(),
        )


class SystemPromptDialog(QDialog):
    def __init__(self, parent: QWidget, prompt: str, n_prompts: int) -> None:
        super().__init__(parent)
        self.setWindowTitle("One system prompt for every example")
        layout = QVBoxLayout(self)
        hint = QLabel(
            (f"The dataset has {n_prompts} different system prompts. " if n_prompts > 1 else "")
            + "Every example will start with this system prompt (an empty text removes it). "
            "Use the same prompt when you run the model later. One Ctrl+Z undoes it all."
        )
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.prompt_edit = QPlainTextEdit(prompt)
        layout.addWidget(self.prompt_edit)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Set for all")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def prompt(self) -> str:
        return self.prompt_edit.toPlainText()
