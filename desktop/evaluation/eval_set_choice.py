"""Which eval set: a dataset version's validation split, a set used before, or a JSONL file;
with its size and the warning when it is too small to tell models apart."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core.dataset.versions import list_versions
from core.evaluation.checks import has_format_checks
from core.evaluation.comparisons import dataset_version_of
from core.evaluation.eval_set import (
    EvalSet,
    EvalSetError,
    eval_set_from_dataset_version,
    load_eval_set_file,
)
from core.evaluation.store import list_eval_sets, load_eval_set
from desktop.theme import WARNING, notice_style

NO_SET_TEXT = (
    "No eval set yet. Choose a JSONL file (one conversation a line, in the OpenAI messages "
    "format; a final assistant message is the reference answer, optional “checks” test the "
    "format), or save a dataset version with a validation split on the Dataset page."
)


class EvalSetChoice(QWidget):
    changed = Signal()

    def __init__(self, project) -> None:
        super().__init__()
        self.project = project
        self._files: list[EvalSet] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.combo = QComboBox()
        self.combo.setObjectName("evalSetCombo")
        self.combo.setToolTip(
            "The prompts every model answers: 100-200 examples that look like real use"
        )
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.file_button = QPushButton("Choose a file…")
        self.file_button.setToolTip("A JSONL eval set file (OpenAI messages format)")
        row.addWidget(self.combo, 1)
        row.addWidget(self.file_button)
        layout.addLayout(row)
        self.info = QLabel()
        self.info.setObjectName("evalSetInfo")
        self.info.setWordWrap(True)
        self.info.setStyleSheet("color: palette(placeholder-text);")
        self.warning = QLabel()
        self.warning.setObjectName("evalSetWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(notice_style(WARNING))
        layout.addWidget(self.info)
        layout.addWidget(self.warning)
        self.combo.currentIndexChanged.connect(self._describe)
        self.refresh()

    def refresh(self, project=None) -> None:
        if project is not None:
            self.project = project
            self._files = []
        chosen = self.combo.currentData() if project is None else None
        self.combo.blockSignals(True)
        self.combo.clear()
        versions = self._dataset_versions()
        listed = {v.id for v in versions if v.n_valid}
        for version in reversed(versions):
            if version.n_valid:
                # The count is in the line below the box: with it the name was cut after
                # "validation split (" beside the file button at the default window size.
                self.combo.addItem(
                    f"{version.dataset} {version.label}: validation split",
                    ("version", version.id),
                )
                self.combo.setItemData(
                    self.combo.count() - 1,
                    f"The validation split of {version.dataset} {version.label}: "
                    f"{version.n_valid} examples",
                    Qt.ItemDataRole.ToolTipRole,
                )
        for stored in list_eval_sets(self.project):
            if dataset_version_of(EvalSet(stored.name, stored.source, ())) in listed:
                continue  # the dataset version above is the same set
            self.combo.addItem(
                f"{stored.name} ({stored.n_examples} examples, used before)",
                ("stored", stored.id),
            )
        for eval_set in self._files:
            self.combo.addItem(self._file_title(eval_set), ("file", eval_set))
        if chosen is not None:  # a version saved meanwhile does not change the user's choice
            self.combo.setCurrentIndex(max(0, self._index_of(chosen)))
        self.combo.blockSignals(False)
        self._describe()

    def _index_of(self, data) -> int:
        """The item holding `data`, compared in Python: findData misses a file's entry
        (its EvalSet is no Qt value), and the box jumped to another set after a run."""
        for index in range(self.combo.count()):
            if self.combo.itemData(index) == data:
                return index
        return -1

    def _dataset_versions(self) -> list:
        return list_versions(self.project)

    @staticmethod
    def _file_title(eval_set: EvalSet) -> str:
        return f"{Path(eval_set.source).name} ({len(eval_set.examples)} examples, file)"

    def use_file(self, path: str | Path) -> str | None:
        """Load a JSONL eval set and select it; what is wrong with it, or None."""
        try:
            eval_set = load_eval_set_file(path)
        except EvalSetError as error:
            return str(error)
        self._files = [e for e in self._files if e.source != eval_set.source] + [eval_set]
        self.refresh()
        self.combo.setCurrentIndex(self.combo.count() - 1)
        return None

    def current(self) -> EvalSet:
        """The chosen eval set, loaded; EvalSetError says what is wrong."""
        data = self.combo.currentData()
        if data is None:
            raise EvalSetError(NO_SET_TEXT)
        kind, value = data
        if kind == "file":
            return value
        if kind == "stored":
            return load_eval_set(self.project, value)

        return eval_set_from_dataset_version(self.project, value)

    def _describe(self, *_args) -> None:
        self.warning.hide()
        if self.combo.count() == 0:
            self.info.setText(NO_SET_TEXT)
            self.changed.emit()
            return
        try:
            eval_set = self.current()
        except EvalSetError as error:
            self.info.setText("")
            self.warning.setText(str(error))
            self.warning.show()
            self.changed.emit()
            return
        examples = eval_set.examples
        with_reference = sum(e.reference is not None for e in examples)
        with_checks = sum(has_format_checks(e) for e in examples)
        self.info.setText(
            f"{len(examples)} examples · {with_reference} with a reference answer · "
            f"{with_checks} with format checks · version {eval_set.content_hash}"
        )
        if eval_set.warnings:
            self.warning.setText("\n\n".join(eval_set.warnings))
            self.warning.show()
        self.changed.emit()
