"""Import: choose a file, see how it reads (a preview and any problems), map table columns.

The file is read in the background with the core importers; what the preview shows is
exactly what will be imported. For CSV, TSV and Parquet the user picks which columns hold
the prompt, the response and (optionally) the system prompt.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QDeadlineTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.dataset.findings import ERROR, INFO, WARNING
from core.dataset.formats import (
    FORMATS,
    ColumnMapping,
    detect_format,
    import_dataset,
    preview_table,
)
from core.dataset.formats.conversions import guess_mapping
from core.dataset.model import Dataset, message_text
from core.figures import count_text
from desktop.background import BackgroundTask
from desktop.dataset.editor import wait_for_task
from desktop.theme import BAD, status_color

TABLE_FORMATS = ("csv", "tsv", "parquet")
FORMAT_NAMES = {
    "auto": "Detect from the file",
    "jsonl": "JSONL, OpenAI chat (messages)",
    "alpaca": "Alpaca (instruction, input, output)",
    "sharegpt": "ShareGPT (conversations, from/value)",
    "csv": "CSV table",
    "tsv": "TSV table",
    "parquet": "Parquet table",
    "hf": "Hugging Face dataset folder",
}
NO_COLUMN = "(none)"
PREVIEW_ROWS = 20


def preview_rows(dataset: Dataset, rows: int = PREVIEW_ROWS) -> list[tuple[str, str, str]]:
    """(system, user, assistant) of the first examples, as the import will read them."""
    out = []
    for example in dataset.examples[:rows]:
        if example.is_broken:
            out.append(("", f"⚠ unreadable: {example.parse_error}", example.raw_text[:200]))
            continue
        texts = {"system": "", "user": "", "assistant": ""}
        for message in example.messages:
            role = message.get("role") if isinstance(message, dict) else None
            if role in texts and not texts[role]:
                texts[role] = message_text(message.get("content"))[:300]
        out.append((texts["system"], texts["user"], texts["assistant"]))
    return out


def likely_mapping(columns: list[str], rows: list[dict]) -> ColumnMapping | None:
    """A first guess when the column names say nothing: the reply is the last column, the
    question the most varied of the others (a column repeating one value is rarely it)."""
    if len(columns) < 2:
        return None
    response = columns[-1]
    others = columns[:-1]

    def variety(column: str) -> tuple[int, float]:
        values = [str(row.get(column) or "") for row in rows]
        return len(set(values)), sum(map(len, values)) / max(len(values), 1)

    prompt = max(others, key=variety)
    return ColumnMapping(prompt=prompt, response=response)


def findings_summary(dataset: Dataset) -> str:
    counts = {ERROR: 0, WARNING: 0, INFO: 0}
    for finding in dataset.load_findings:
        counts[finding.severity] += 1
    text = f"{len(dataset):,} examples read"
    if counts[ERROR]:
        lines = [str(f.line) for f in dataset.load_findings if f.severity == ERROR and f.line][:6]
        text += f" · {count_text(counts[ERROR], 'problem')} to fix" + (
            f" (lines {', '.join(lines)}…)" if lines else ""
        )
        text += "; they are kept, and you can repair them in the editor"
    if counts[WARNING] + counts[INFO]:
        text += f" · {count_text(counts[WARNING] + counts[INFO], 'note')}"
    return text


class ImportDialog(QDialog):
    def __init__(
        self, parent: QWidget | None = None, can_append: bool = False, path: str = ""
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import examples")
        self.resize(900, 620)
        self.dataset: Dataset | None = None
        self.append = False
        self._task: BackgroundTask | None = None
        self._read_again = False
        self._uses_mapping = False
        self._columns_of: str | None = None
        layout = QVBoxLayout(self)

        file_row = QHBoxLayout()
        self.path_edit = QLineEdit(path)
        self.path_edit.setPlaceholderText(
            "A .jsonl, .json, .csv, .tsv or .parquet file, or a dataset folder"
        )
        self.path_edit.editingFinished.connect(self.read_file)
        browse = QPushButton("Choose file…")
        browse.clicked.connect(self._browse_file)
        folder = QPushButton("Choose folder…")
        folder.setToolTip("A folder written by datasets.save_to_disk")
        folder.clicked.connect(self._browse_folder)
        file_row.addWidget(self.path_edit, 1)
        file_row.addWidget(browse)
        file_row.addWidget(folder)
        layout.addLayout(file_row)

        options = QFormLayout()
        self.format_box = QComboBox()
        for key in ("auto", *FORMATS):
            self.format_box.addItem(FORMAT_NAMES.get(key, key), key)
        self.format_box.currentIndexChanged.connect(self._format_changed)
        options.addRow("Format", self.format_box)
        layout.addLayout(options)

        self.mapping_box = QGroupBox("Which columns hold the conversation")
        mapping_form = QFormLayout(self.mapping_box)
        self.prompt_column = QComboBox()
        self.prompt_column.setToolTip(ColumnMapping.__dataclass_fields__["prompt"].metadata["help"])
        self.response_column = QComboBox()
        self.response_column.setToolTip(
            ColumnMapping.__dataclass_fields__["response"].metadata["help"]
        )
        self.system_column = QComboBox()
        self.system_column.setToolTip(ColumnMapping.__dataclass_fields__["system"].metadata["help"])
        mapping_form.addRow("What the user asks", self.prompt_column)
        mapping_form.addRow("The reply to learn", self.response_column)
        mapping_form.addRow("System prompt (optional)", self.system_column)
        for box in (self.prompt_column, self.response_column, self.system_column):
            box.currentIndexChanged.connect(self._mapping_changed)
        self.mapping_box.hide()
        layout.addWidget(self.mapping_box)

        self.summary = QLabel("Choose a file to see how it reads.")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.hide()
        layout.addWidget(self.progress)
        # At most PREVIEW_ROWS rows: a table widget is the simple tool for a fixed preview.
        self.preview = QTableWidget(0, 3)
        self.preview.setHorizontalHeaderLabels(["System", "User", "Assistant"])
        self.preview.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview.setWordWrap(False)
        self.preview.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.preview, 1)

        mode = QHBoxLayout()
        self.replace_radio = QRadioButton("Start a new dataset from this file")
        self.append_radio = QRadioButton("Add these examples to the current dataset")
        group = QButtonGroup(self)
        group.addButton(self.replace_radio)
        group.addButton(self.append_radio)
        self.append_radio.setEnabled(can_append)
        (self.append_radio if can_append else self.replace_radio).setChecked(True)
        mode.addWidget(self.replace_radio)
        mode.addWidget(self.append_radio)
        mode.addStretch(1)
        layout.addLayout(mode)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        if path:
            self.read_file()

    # --- choosing -------------------------------------------------------------------
    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Choose a dataset file",
            "",
            "Datasets (*.jsonl *.json *.csv *.tsv *.tab *.parquet *.pq);;All files (*)",
        )
        if path:
            self.path_edit.setText(path)
            self.read_file()

    def _browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Choose a folder written by datasets.save_to_disk"
        )
        if path:
            self.path_edit.setText(path)
            self.read_file()

    def chosen_format(self) -> str:
        fmt = self.format_box.currentData()
        if fmt != "auto":
            return fmt
        try:
            return detect_format(self.path_edit.text().strip())
        except (OSError, ValueError):
            return "auto"

    def _format_changed(self) -> None:
        self._columns_of = None
        self._fill_columns()
        self.read_file()

    def _fill_columns(self) -> None:
        path = self.path_edit.text().strip()
        fmt = self.chosen_format()
        self._uses_mapping = False
        self._columns_of = path
        if fmt not in TABLE_FORMATS or not Path(path).is_file():
            self.mapping_box.hide()
            return
        try:
            columns, rows = preview_table(path, rows=PREVIEW_ROWS)
        except Exception as error:  # an unreadable table: the read below reports it
            self.summary.setText(f"Cannot read the columns: {error}")
            self.mapping_box.hide()
            return
        guess = guess_mapping(columns) or likely_mapping(columns, rows)
        for box, chosen, optional in (
            (self.prompt_column, guess.prompt if guess else None, False),
            (self.response_column, guess.response if guess else None, False),
            (self.system_column, guess.system if guess else None, True),
        ):
            box.blockSignals(True)
            box.clear()
            if optional:
                box.addItem(NO_COLUMN, None)
            for column in columns:
                box.addItem(column, column)
            if chosen is not None:
                box.setCurrentIndex(box.findData(chosen))
            elif not optional and len(columns) > 1:
                box.setCurrentIndex(0 if box is self.prompt_column else 1)
            box.blockSignals(False)
        self._uses_mapping = True
        self.mapping_box.show()

    def _mapping_changed(self) -> None:
        self.read_file()

    def mapping(self) -> ColumnMapping | None:
        if not self._uses_mapping:
            return None
        return ColumnMapping(
            prompt=self.prompt_column.currentData(),
            response=self.response_column.currentData(),
            system=self.system_column.currentData(),
        )

    # --- reading --------------------------------------------------------------------
    def read_file(self) -> None:
        """Read the file with the chosen format and mapping, in the background."""
        path = self.path_edit.text().strip()
        if not path:
            return
        if self._task is not None:
            self._read_again = True
            return
        if self._columns_of != path:
            self._fill_columns()
        try:
            mapping = self.mapping()
        except ValueError as error:
            self._show_problem(str(error))
            return
        fmt = self.format_box.currentData()
        self.progress.show()
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
        self._task = BackgroundTask(
            lambda report, cancelled: import_dataset(
                path, fmt, mapping, progress=report, cancelled=cancelled
            ),
            self,
        )
        self._task.succeeded.connect(self._show)
        self._task.failed.connect(self._show_problem)
        self._task.finished.connect(self._read_finished)
        self._task.start()

    def _read_finished(self) -> None:
        self._task = None
        self.progress.hide()
        if self._read_again:
            self._read_again = False
            self.read_file()

    def wait(self, timeout_ms: int = 30_000) -> None:
        """Until the file is read, including a second read the first one asked for."""
        deadline = QDeadlineTimer(timeout_ms)
        while self._task is not None and not deadline.hasExpired():
            wait_for_task(self._task, 100)
            QCoreApplication.processEvents()

    def _show_problem(self, message: str) -> None:
        self.dataset = None
        self.summary.setText(f"<span style='color:{status_color(BAD)}'>{message}</span>")
        self.preview.setRowCount(0)

    def _show(self, dataset: Dataset) -> None:
        unreadable = [f for f in dataset.load_findings if f.code == "unreadable"]
        if unreadable:
            self._show_problem(unreadable[0].message + " " + unreadable[0].fix)
            return
        self.dataset = dataset
        self.summary.setText(findings_summary(dataset))
        rows = preview_rows(dataset)
        self.preview.setRowCount(len(rows))
        for row, values in enumerate(rows):
            for column, value in enumerate(values):
                item = QTableWidgetItem(" ".join(value.split())[:200])
                item.setToolTip(value)
                self.preview.setItem(row, column, item)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(len(dataset) > 0)

    def accept(self) -> None:
        self.append = self.append_radio.isChecked()
        super().accept()

    def reject(self) -> None:
        if self._task is not None:
            self._task.cancel()
            wait_for_task(self._task)
        super().reject()
