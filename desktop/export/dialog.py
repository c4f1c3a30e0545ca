"""The Export dialog the Runs page opens for one run: format, folder, parity eval set, then the
export in the background with a progress bar and Cancel, and the parity result and card.

    ExportDialog(context, run_id, parent).open()

The work is core.export.exporter.export_run in a BackgroundTask; this widget only gathers
the options and shows what happened.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.evaluation.store import list_eval_sets, list_runs
from core.export.exporter import export_run, file_stem
from core.export.gguf_export import gguf_route
from core.export.options import (
    FORMAT_TITLES,
    FORMATS,
    GGUF_TYPES,
    ExportOptions,
    ExportOptionsError,
    option_help,
)
from core.export.source import ExportSourceError, load_export_source
from core.export.staging import ExportFolderError, check_output_folder
from core.figures import count_text
from desktop.background import BackgroundTask
from desktop.theme import BAD, GOOD, status_style

OK_STYLE = status_style(GOOD)
ERROR_STYLE = status_style(BAD)
NO_PARITY = "No parity check"


class ExportDialog(QDialog):
    """Export one run; emits `exported(ExportResult)` when an export completes."""

    exported = Signal(object)

    def __init__(self, context, run_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.project = context.project
        self.run_id = run_id
        self.task: BackgroundTask | None = None
        self.result = None
        self.last_error = ""
        self._folder_edited = False
        self.source = None
        self.source_problem = ""
        self.setWindowTitle(f"Export {run_id}")
        self.setMinimumWidth(620)
        self._load_source()
        self._build()
        self._refresh_format()
        self._update_state()

    # --- building --------------------------------------------------------------------
    def _load_source(self) -> None:
        try:
            self.source = load_export_source(self.project, self.run_id)
        except ExportSourceError as error:
            self.source_problem = str(error)

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        run = self.source.run if self.source else None
        heading = QLabel(
            f"<b>{run.name or run.run_id}</b><br>{run.method} on {run.base_model}, "
            f"{count_text(run.steps_done, 'step')}"
            if run
            else f"<b>{self.run_id}</b>"
        )
        heading.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(heading)
        self.problem_label = QLabel(self.source_problem)
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet(ERROR_STYLE)
        self.problem_label.setVisible(bool(self.source_problem))
        layout.addWidget(self.problem_label)

        form = QFormLayout()
        format_row = QVBoxLayout()
        self.format_group = QButtonGroup(self)
        self.format_buttons: dict[str, QRadioButton] = {}
        for number, name in enumerate(FORMATS):
            button = QRadioButton(FORMAT_TITLES[name])
            button.setToolTip(option_help("format"))
            self.format_group.addButton(button, number)
            self.format_buttons[name] = button
            format_row.addWidget(button)
        if self.source is not None and not self.source.is_adapter:
            adapter = self.format_buttons["adapter"]
            adapter.setEnabled(False)
            adapter.setToolTip("A full fine-tune has no adapter: export the merged model.")
        default = "adapter" if self.source is not None and self.source.is_adapter else "merged"
        self.format_buttons[default].setChecked(True)
        self.format_group.idToggled.connect(lambda _id, checked: checked and self._refresh_format())
        form.addRow("Format", format_row)

        self.gguf_type = QComboBox()
        self.gguf_type.addItems(GGUF_TYPES)
        self.gguf_type.setToolTip(option_help("gguf_type"))
        self.gguf_row_label = QLabel("GGUF type")
        form.addRow(self.gguf_row_label, self.gguf_type)
        self.converter_label = QLabel()
        self.converter_label.setWordWrap(True)
        self.converter_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.converter_row_label = QLabel("Converter")
        form.addRow(self.converter_row_label, self.converter_label)

        folder_row = QHBoxLayout()
        self.folder_edit = QLineEdit()
        self.folder_edit.setToolTip(option_help("out_dir"))
        self.folder_edit.textEdited.connect(self._on_folder_edited)
        browse = QPushButton("Browse…")
        browse.setToolTip("Choose the parent folder; the export's own folder name stays.")
        browse.clicked.connect(self._browse)
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        form.addRow("Folder", folder_row)
        self.overwrite = QCheckBox("Replace the folder if it exists")
        self.overwrite.setToolTip(option_help("overwrite"))
        form.addRow("", self.overwrite)

        self.parity_choice = QComboBox()
        self.parity_choice.setToolTip(option_help("parity_eval_set"))
        self._fill_parity_choices()
        form.addRow("Parity check", self.parity_choice)
        layout.addLayout(form)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status_label)
        self.parity_label = QLabel()
        self.parity_label.setWordWrap(True)
        self.parity_label.setVisible(False)
        layout.addWidget(self.parity_label)
        self.mismatch_list = QListWidget()
        self.mismatch_list.setToolTip(
            "Prompts whose answer from the export differs from the app's."
        )
        self.mismatch_list.setVisible(False)
        self.mismatch_list.setMaximumHeight(140)
        layout.addWidget(self.mismatch_list)
        card_row = QHBoxLayout()
        card_row.setContentsMargins(0, 0, 0, 0)
        self.card_label = QLabel()
        self.card_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.card_label.setWordWrap(True)
        self.open_button = QPushButton("Open folder")
        self.open_button.setToolTip("Show the export in the file manager.")
        self.open_button.clicked.connect(self._open_folder)
        self.copy_button = QPushButton("Copy path")
        self.copy_button.clicked.connect(self._copy_path)
        card_row.addWidget(self.card_label, 1)
        card_row.addWidget(self.copy_button)
        card_row.addWidget(self.open_button)
        self.card_row = QWidget()
        self.card_row.setLayout(card_row)
        self.card_row.setVisible(False)
        layout.addWidget(self.card_row)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.export_button.setToolTip("Start the export (Ctrl+Enter).")
        self.export_button.clicked.connect(self.start_export)
        self.cancel_button = QPushButton("Cancel export")
        self.cancel_button.setToolTip(
            "Stop the export; nothing is left under the folder's name (Esc)."
        )
        self.cancel_button.clicked.connect(self.cancel_export)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        for button in (self.export_button, self.cancel_button, self.close_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.start_export)

    def _fill_parity_choices(self) -> None:
        self.parity_choice.addItem(NO_PARITY, "")
        evaluated = {
            r.eval_set_id for r in list_runs(self.project) if r.training_run == self.run_id
        }
        preferred = None
        for stored in list_eval_sets(self.project):
            label = f"{stored.name} ({stored.n_examples} prompts)"
            if stored.id in evaluated:
                label += " - evaluated in the app"
                preferred = preferred or self.parity_choice.count()
            self.parity_choice.addItem(label, str(stored.id))
        if preferred is not None:
            self.parity_choice.setCurrentIndex(preferred)
        elif self.parity_choice.count() > 1:
            self.parity_choice.setCurrentIndex(1)

    # --- options ---------------------------------------------------------------------
    def chosen_format(self) -> str:
        for name, button in self.format_buttons.items():
            if button.isChecked():
                return name
        return "merged"

    def default_folder(self, fmt: str) -> Path:
        name = self.source.run.name if self.source else ""
        return Path(self.project.folder) / "exports" / f"{file_stem(name or self.run_id)}-{fmt}"

    def _refresh_format(self) -> None:
        fmt = self.chosen_format()
        is_gguf = fmt == "gguf"
        self.gguf_type.setVisible(is_gguf)
        self.gguf_row_label.setVisible(is_gguf)
        self.converter_label.setVisible(is_gguf)
        self.converter_row_label.setVisible(is_gguf)
        if is_gguf and self.source is not None:
            ok, text = gguf_route(self.source)
            if not ok:
                text = "No GGUF converter here: the merged model is exported instead.\n" + text
            self.converter_label.setText(text)
            self.converter_label.setStyleSheet("" if ok else ERROR_STYLE)
        if not self._folder_edited:
            self.folder_edit.setText(str(self.default_folder(fmt)))

    def _on_folder_edited(self, _text: str) -> None:
        self._folder_edited = True

    def _browse(self) -> None:
        parent = QFileDialog.getExistingDirectory(
            self, "Export into", str(Path(self.folder_edit.text()).parent)
        )
        if parent:
            self._folder_edited = True
            self.folder_edit.setText(str(Path(parent) / Path(self.folder_edit.text()).name))

    def options(self) -> ExportOptions:
        return ExportOptions(
            format=self.chosen_format(),
            out_dir=self.folder_edit.text().strip(),
            overwrite=self.overwrite.isChecked(),
            parity_eval_set=self.parity_choice.currentData() or "",
            gguf_type=self.gguf_type.currentText(),
        )

    # --- running ---------------------------------------------------------------------
    def start_export(self) -> bool:
        if self.task is not None or self.source is None:
            return False
        try:
            options = self.options()
        except ExportOptionsError as error:
            self._show_error(str(error))
            return False

        try:
            check_output_folder(
                options.out_path,
                options.overwrite,
                self.project,
                self.project.runs_dir / self.run_id if self.project is not None else None,
            )
        except ExportFolderError as error:
            self._show_error(str(error))
            return False
        self.result = None
        self.last_error = ""
        project, run_id = self.project, self.run_id
        self.task = BackgroundTask(
            lambda report, cancelled: export_run(project, run_id, options, report, cancelled), self
        )
        self.task.progress.connect(self._on_progress)
        self.task.succeeded.connect(self._on_exported)
        self.task.failed.connect(self._on_failed)
        self.task.finished.connect(self._on_finished)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.status_label.setStyleSheet("")
        self.status_label.setText("Starting the export…")
        self.parity_label.setVisible(False)
        self.mismatch_list.setVisible(False)
        self.card_row.setVisible(False)
        self.task.start()
        self._update_state()
        return True

    def cancel_export(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.status_label.setText("Cancelling… (the folder will not be created)")

    def is_running(self) -> bool:
        return self.task is not None

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.status_label.setText(message)

    def _on_exported(self, result) -> None:
        self.result = result
        if result.complete:
            self.status_label.setStyleSheet(OK_STYLE)
            self.status_label.setText(f"Exported to {result.folder}")
        else:
            self.status_label.setStyleSheet(ERROR_STYLE)
            self.status_label.setText(
                f"GGUF not written; the merged model is in {result.folder}.\n{result.gguf_missing}"
            )
        parity = result.parity
        if parity is not None:
            self.parity_label.setText(parity.summary())
            self.parity_label.setStyleSheet(OK_STYLE if parity.passed else ERROR_STYLE)
            self.parity_label.setVisible(True)
            self.mismatch_list.clear()
            for mismatch in parity.mismatches:
                self.mismatch_list.addItem(
                    f"#{mismatch.index} {mismatch.prompt[:60]!r}: app {mismatch.in_app[:60]!r}"
                    f" / export {mismatch.exported[:60]!r}"
                )
            self.mismatch_list.setVisible(bool(parity.mismatches))
        notes = [result.merge_note, *[f"Warning: {w}" for w in result.warnings]]
        if any(notes):
            self.status_label.setText(
                self.status_label.text() + "\n" + "\n".join(n for n in notes if n)
            )
        self.card_label.setText(f"Model card: {result.card_path}")
        self.card_row.setVisible(True)
        self.context.show_status(f"Exported {self.run_id} to {result.folder}")
        self.exported.emit(result)

    def _on_failed(self, message: str) -> None:
        self.last_error = message
        if message.startswith("ExportCancelled"):
            self.status_label.setStyleSheet("")
            self.status_label.setText("Cancelled; nothing was written under the folder's name.")
        else:
            self._show_error(f"The export failed: {message}")

    def _show_error(self, text: str) -> None:
        self.status_label.setStyleSheet(ERROR_STYLE)
        self.status_label.setText(text)
        self.adjustSize()  # grow to the wrapped message instead of squeezing the form

    def _on_finished(self) -> None:
        self.task = None
        self.progress.setVisible(False)
        self._update_state()

    def _update_state(self) -> None:
        running = self.task is not None
        self.export_button.setEnabled(not running and self.source is not None)
        self.cancel_button.setVisible(running)
        self.close_button.setEnabled(not running)
        for widget in (self.folder_edit, self.overwrite, self.parity_choice, self.gguf_type):
            widget.setEnabled(not running)
        for name, button in self.format_buttons.items():
            usable = self.source is not None and (name != "adapter" or self.source.is_adapter)
            button.setEnabled(not running and usable)

    # --- results ---------------------------------------------------------------------
    def _open_folder(self) -> None:
        if self.result is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.result.folder)))

    def _copy_path(self) -> None:
        if self.result is not None:
            QGuiApplication.clipboard().setText(str(self.result.folder))

    def reject(self) -> None:
        """Esc and Close: cancel a running export first (it cleans up after itself)."""
        if self.task is not None:
            self.cancel_export()
            return
        super().reject()

    def closeEvent(self, event) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task.wait(120_000)
        super().closeEvent(event)
