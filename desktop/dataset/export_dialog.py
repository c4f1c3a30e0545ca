"""Export: write the examples to a file in a chosen format (JSONL holds everything).

An existing file is replaced only after the user said so: in the system's save dialog,
or by pressing "Replace" once the dialog has named the file it would overwrite."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.dataset.formats import CannotExport, export_dataset
from core.dataset.model import Dataset
from core.output_folder import OutputPathError
from desktop.theme import BAD, status_style

EXPORT_FORMATS = (
    ("jsonl", "JSONL, OpenAI chat format (holds everything)", ".jsonl"),
    ("alpaca", "Alpaca JSON (single exchanges only)", ".json"),
    ("sharegpt", "ShareGPT JSON", ".json"),
    ("csv", "CSV table (single exchanges only)", ".csv"),
    ("tsv", "TSV table (single exchanges only)", ".tsv"),
    ("parquet", "Parquet", ".parquet"),
)


def export_examples(
    dataset: Dataset,
    path: str,
    fmt: str,
    studio_fields: bool,
    allow_loss: bool,
    overwrite: bool = False,
) -> str:
    """Write the file; return what was done, for the status bar. Raises CannotExport,
    OutputPathError (an existing file without `overwrite`), OSError."""
    written = export_dataset(
        dataset, path, fmt, allow_loss=allow_loss, studio_fields=studio_fields, overwrite=overwrite
    )
    left_out = len(dataset) - written
    text = f"Exported {written:,} examples to {path}."
    if left_out:
        text += f" {left_out:,} could not be written as {fmt} and were left out."
    return text


class ExportDialog(QDialog):
    def __init__(self, parent: QWidget | None, dataset: Dataset) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export examples")
        self.dataset = dataset
        self.written: str | None = None
        self._replace_allowed: Path | None = None  # the one existing file the user agreed to
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.format_box = QComboBox()
        for key, title, _suffix in EXPORT_FORMATS:
            self.format_box.addItem(title, key)
        self.format_box.currentIndexChanged.connect(self._format_changed)
        form.addRow("Format", self.format_box)
        path_row = QHBoxLayout()
        self.path_edit = QLineEdit(str(Path.home() / f"{dataset.name}.jsonl"))
        self.path_edit.textChanged.connect(self._path_changed)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        form.addRow("File", path_row)
        self.studio_box = QCheckBox("Keep tags, review marks and ids (FineTune Studio fields)")
        self.studio_box.setToolTip("Off: plain OpenAI-format records any training tool accepts")
        form.addRow("", self.studio_box)
        self.loss_box = QCheckBox("Leave out examples this format cannot hold")
        self.loss_box.setToolTip("Otherwise the export stops and names the first such example")
        form.addRow("", self.loss_box)
        layout.addLayout(form)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(status_style(BAD))
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.export_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.export_button.setText("Export")
        buttons.accepted.connect(self.export)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _format_changed(self) -> None:
        key = self.format_box.currentData()
        suffix = next(s for k, _t, s in EXPORT_FORMATS if k == key)
        self.path_edit.setText(str(Path(self.path_edit.text()).with_suffix(suffix)))
        self.studio_box.setEnabled(key == "jsonl")

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path_edit.text())
        if path:
            self.path_edit.setText(path)
            # The save dialog has already asked whether to replace an existing file.
            self._replace_allowed = self._target()

    def _target(self) -> Path:
        return Path(self.path_edit.text().strip()).expanduser().absolute()

    def _path_changed(self) -> None:
        self._replace_allowed = None
        self.error.clear()
        self.export_button.setText("Export")

    def export(self) -> None:
        target = self._target()
        try:
            self.written = export_examples(
                self.dataset,
                self.path_edit.text().strip(),
                self.format_box.currentData(),
                self.studio_box.isChecked(),
                self.loss_box.isChecked(),
                overwrite=self._replace_allowed == target,
            )
        except OutputPathError as error:
            if target.is_file():
                self._ask_to_replace(target)
            else:
                self.error.setText(str(error))
            return
        except (CannotExport, OSError, ValueError) as error:
            self.error.setText(str(error))
            return
        self.accept()

    def _ask_to_replace(self, target: Path) -> None:
        """Name the file that would be lost; a second press of the button replaces it."""
        size = target.stat().st_size
        self.error.setText(
            f"{target} already exists ({size:,} bytes). Press Replace to overwrite it, "
            "or choose another file name."
        )
        self._replace_allowed = target
        self.export_button.setText("Replace")
