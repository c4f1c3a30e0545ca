"""The model picker: every model on this machine in one table (bundled, project folders,
Hugging Face cache) with size, architecture, license and weight format, and a download
from the Hub that runs only when the user presses Download, with progress and Cancel.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.models.catalog import catalog_name_for_hub_id
from core.models.download import DownloadError, download_model
from core.models.hub_cache import HUB_ID, hub_cache_dir
from core.models.hub_token import save_token
from core.models.inventory import ModelEntry, available_models
from core.models.model_facts import human_size
from core.models.registry import BaseModel, ModelFolderError
from desktop.background import BackgroundTask
from desktop.models.trust_prompts import add_model_folder, ask_with_dialog
from desktop.theme import BAD, status_color, status_style

COLUMNS = ("Name", "Source", "Size", "Architecture", "License", "Weights")
ERROR_STYLE = status_style(BAD)
EXAMPLE_ID = "HuggingFaceTB/SmolLM2-360M-Instruct"


class ModelTable(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.entries: list[ModelEntry] = []

    def set_entries(self, entries: list[ModelEntry]) -> None:
        self.beginResetModel()
        self.entries = entries
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        entry = self.entries[index.row()]
        facts, column = entry.facts, index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return entry.model.name
            if column == 1:
                return entry.source_text
            if facts is None:
                return "not prepared yet" if column == 2 else ""
            return (
                human_size(facts.size_bytes),
                facts.architecture or "unknown",
                facts.license or "not stated",
                facts.weights_text,
            )[column - 2]
        if role == Qt.ItemDataRole.ToolTipRole:
            if entry.model.path is None:
                return "Converted from the bundled GGUF file the first time it is used (~30 s)."
            tip = str(entry.model.path)
            if entry.model.revision:
                tip += f"\nrevision {entry.model.revision}"
            if facts is not None and not facts.safetensors and facts.pickle_weights:
                tip += "\nPickle weights can run code when loaded: use only if you trust them."
            return tip
        if role == Qt.ItemDataRole.ForegroundRole and column == 5 and facts is not None:
            return None if facts.safetensors else QColor(status_color(BAD))
        return None


class ModelPickerDialog(QDialog):
    """Choose a base model; `chosen` carries the BaseModel when the user confirms."""

    chosen = Signal(object)

    def __init__(
        self, project=None, parent: QWidget | None = None, config_only: bool = False
    ) -> None:
        super().__init__(parent)
        self.project = project
        self.config_only = config_only  # the Estimate page needs config.json, not weights
        self.task: BackgroundTask | None = None
        self.setWindowTitle("Choose a base model")
        self.resize(860, 520)
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Models on this machine: the bundled one, folders added to the project, and the "
            "Hugging Face cache. Nothing here uses the network until you press Download."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)

        self.table_model = ModelTable(self)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda _index: self.accept())
        layout.addWidget(self.table, 1)
        self.cache_note = QLabel()
        self.cache_note.setWordWrap(True)
        self.cache_note.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.cache_note)

        layout.addWidget(self._download_box())
        bottom = QHBoxLayout()
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.setToolTip(
            "Add a Hugging Face model folder on this machine to the project"
            if project is not None
            else "Open a project to add model folders to it"
        )
        self.add_folder_button.setEnabled(project is not None)
        self.add_folder_button.clicked.connect(self.add_folder_dialog)
        bottom.addWidget(self.add_folder_button)
        bottom.addStretch(1)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Close
        )
        self.use_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.use_button.setText("Use this model")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        bottom.addWidget(buttons)
        layout.addLayout(bottom)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self._fetching_config = False
        self._pending_choice: BaseModel | None = None
        app = QApplication.instance()
        if app is not None:  # quitting with the dialog open must not leave the thread running
            app.aboutToQuit.connect(self.stop_download)
        self.refresh()

    def _download_box(self) -> QGroupBox:
        box = QGroupBox("Download from the Hugging Face Hub")
        column = QVBoxLayout(box)
        row = QHBoxLayout()
        self.hub_id_edit = QLineEdit()
        self.hub_id_edit.setPlaceholderText(f"org/name, for example {EXAMPLE_ID}")
        self.hub_id_edit.setToolTip("The model's id as on its Hub page")
        self.hub_id_edit.returnPressed.connect(self.start_download)
        self.revision_edit = QLineEdit()
        self.revision_edit.setPlaceholderText("main")
        self.revision_edit.setMaximumWidth(130)
        self.revision_edit.setToolTip(
            "Branch, tag or commit; the commit downloaded is pinned in each run's record"
        )
        self.token_button = QPushButton("Access token…")
        self.token_button.setToolTip(
            "For gated models (Llama, Gemma): paste a token from huggingface.co/settings/tokens "
            "once; it goes to the OS keyring, never into the project"
        )
        self.token_button.clicked.connect(self.ask_token)
        self.download_button = QPushButton("Download")
        self.download_button.setToolTip(
            "Fetch the weights and tokenizer into the Hugging Face cache (disk space is checked "
            "first; a cancelled download continues next time)"
        )
        self.download_button.clicked.connect(self.start_download)
        self.config_button = QPushButton("Config only")
        self.config_button.setToolTip(
            "Estimate a Hub model without its weights: fetch its config.json alone (a few KB), "
            "or use the built-in catalog when it knows the model"
        )
        self.config_button.clicked.connect(self.start_config_fetch)
        self.config_button.setVisible(self.config_only)
        row.addWidget(self.hub_id_edit, 1)
        row.addWidget(QLabel("Revision"))
        row.addWidget(self.revision_edit)
        row.addWidget(self.token_button)
        row.addWidget(self.config_button)
        row.addWidget(self.download_button)
        column.addLayout(row)
        progress_row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the download; what was fetched is kept for next time")
        self.cancel_button.clicked.connect(self.cancel_download)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        column.addLayout(progress_row)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.status)
        self._set_downloading(False)
        return box

    # --- the list ----------------------------------------------------------------------
    def refresh(self, select: str | None = None) -> None:
        current = select or (self.selected_model().name if self.selected_model() else None)
        entries = available_models(self.project)
        self.table_model.set_entries(entries)
        in_cache = [e for e in entries if e.model.source == "hub"]
        if in_cache:
            self.cache_note.setText(f"Hugging Face cache: {hub_cache_dir()}")
        else:
            self.cache_note.setText(
                f"No models in the Hugging Face cache yet ({hub_cache_dir()}). Download one "
                "below, or add a model folder on the Project page."
            )
        names = [e.model.name for e in entries]
        row = names.index(current) if current in names else 0
        self.table.selectRow(row)
        self._selection_changed()

    def selected_model(self) -> BaseModel | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        return self.table_model.entries[rows[0].row()].model

    def _selection_changed(self, *_args) -> None:
        self.use_button.setEnabled(self.selected_model() is not None)

    def accept(self) -> None:
        model = self.selected_model()
        if model is not None:
            self._choose(model)

    def _choose(self, model: BaseModel) -> None:
        if self.task is not None and self.task.is_running():
            self.status.setStyleSheet(ERROR_STYLE)
            self.status.setText("Wait for the download to finish, or cancel it first.")
            return
        self.chosen.emit(model)
        super().accept()

    def reject(self) -> None:
        self.stop_download()
        super().reject()

    def stop_download(self) -> None:
        """Cancel and wait (the child process is killed within a tenth of a second)."""
        self.cancel_download()
        if self.task is not None:
            self.task.wait()

    # --- local folders -----------------------------------------------------------------
    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a Hugging Face model folder")
        if folder:
            self.add_folder(folder, ask_with_dialog(self))

    def add_folder(self, folder: str, confirm: Callable[[str, str], bool]) -> bool:
        """Add a folder to the project, asking before custom code or pickle weights."""
        try:
            model = add_model_folder(self.project, folder, confirm)
        except ModelFolderError as error:
            self._show_error(str(error))
            return False
        self.status.setStyleSheet("")
        self.status.setText(f"Added {model.name} ({model.path}) to the project.")
        self.refresh(select=model.name)
        return True

    # --- downloading -----------------------------------------------------------------
    def ask_token(self) -> None:
        token, ok = QInputDialog.getText(
            self,
            "Hugging Face access token",
            "Paste a read token from huggingface.co/settings/tokens:",
            QLineEdit.EchoMode.Password,
        )
        if ok and token.strip():
            where = save_token(token)
            self.status.setStyleSheet("")
            self.status.setText(f"Access token {where}.")

    def is_downloading(self) -> bool:
        """True from Download until the dialog has taken in the end of the task."""
        return self._downloading

    def _set_downloading(self, running: bool) -> None:
        self._downloading = running
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        self.cancel_button.setEnabled(running)
        self.download_button.setEnabled(not running)
        self.config_button.setEnabled(not running)
        self.hub_id_edit.setEnabled(not running)
        self.revision_edit.setEnabled(not running)

    def _typed_hub_id(self) -> str | None:
        hub_id = self.hub_id_edit.text().strip()
        if not HUB_ID.match(hub_id):
            self._show_error(f"Write the model id as org/name, for example {EXAMPLE_ID}.")
            return None
        return hub_id

    def start_download(self) -> None:
        hub_id = self._typed_hub_id()
        if hub_id is not None:
            self._run_download(hub_id, None)

    def start_config_fetch(self) -> None:
        """config.json alone, for an estimate; nothing at all when the catalog knows the id."""
        hub_id = self._typed_hub_id()
        if hub_id is None:
            return
        known = catalog_name_for_hub_id(hub_id)
        if known is not None:
            self._choose(BaseModel(known, None, "catalog", hub_id=hub_id))
            return
        self._run_download(hub_id, ["config.json"])

    def _run_download(self, hub_id: str, files: list[str] | None) -> None:
        revision = self.revision_edit.text().strip() or None
        if self.task is not None and self.task.is_running():
            return

        def work(report, cancelled):
            try:
                return download_model(
                    hub_id, revision, files=files, progress=report, cancelled=cancelled
                )
            except DownloadError as error:
                return error  # shown in the dialog as it is: one line saying what to do

        what = "config.json of" if files else "download of"
        self.status.setStyleSheet("")
        self.status.setText(f"Starting the {what} {hub_id}…")
        self.progress.setValue(0)
        self._set_downloading(True)
        self._fetching_config = bool(files)
        self.task = BackgroundTask(work, self)
        self.task.progress.connect(self._progress)
        self.task.succeeded.connect(self._finished)
        self.task.failed.connect(self._show_error)
        self.task.finished.connect(self._task_done)
        self.task.start()

    def _task_done(self) -> None:
        self._set_downloading(False)
        if self._pending_choice is not None:
            model, self._pending_choice = self._pending_choice, None
            self.task.wait()  # finished is emitted as the thread ends: this returns at once
            self._choose(model)

    def cancel_download(self) -> None:
        if self.task is not None and self.task.is_running():
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling…")
            self.task.cancel()

    def _progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.status.setText(message)

    def _finished(self, result) -> None:
        if isinstance(result, DownloadError):
            if result.kind == "cancelled":
                self.status.setStyleSheet("")
                self.status.setText(str(result))
            else:
                self._show_error(str(result))
                if result.kind == "gated":
                    self.token_button.setFocus()
            return
        if self._fetching_config:  # not listed (no weights): to the estimate once done
            self._pending_choice = BaseModel(
                result.hub_id, result.path, "hub", hub_id=result.hub_id, revision=result.revision
            )
            self.status.setText(f"Fetched the config.json of {result.hub_id}.")
            return
        self.status.setStyleSheet("")
        self.status.setText(
            f"Downloaded {result.hub_id} at revision {result.revision[:10]} "
            f"({human_size(result.total_bytes)})."
        )
        self.refresh(select=result.hub_id)

    def _show_error(self, message: str) -> None:
        self.status.setStyleSheet(ERROR_STYLE)
        self.status.setText(message)


def model_picker_button(
    parent: QWidget,
    project: Callable[[], object],
    on_chosen: Callable[[BaseModel], None],
    config_only: bool = False,
) -> QPushButton:
    """A "Browse…" button that opens the picker; `on_chosen` gets the model the user took."""
    button = QPushButton("Models…", parent)
    button.setObjectName("browse_models")
    button.setToolTip(
        "All models on this machine (Hugging Face cache, project folders, bundled) with their "
        "size and license, and downloads from the Hub"
    )

    def open_picker() -> None:
        dialog = ModelPickerDialog(project(), button.window(), config_only=config_only)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.chosen.connect(on_chosen)
        button.picker_dialog = dialog  # the open dialog, for tests and screenshots
        dialog.open()

    button.clicked.connect(open_picker)
    return button


def attach_model_picker(
    combo: QComboBox, project: Callable[[], object], on_chosen: Callable[[BaseModel], None]
) -> QPushButton:
    """Put the picker's button right of `combo`, taking the combo's place in its layout."""
    holder = QWidget()
    row = QHBoxLayout(holder)
    row.setContentsMargins(0, 0, 0, 0)
    layout = combo.parentWidget().layout() if combo.parentWidget() else None
    if layout is not None:
        layout.replaceWidget(combo, holder)
    row.addWidget(combo, 1)
    button = model_picker_button(holder, project, on_chosen)
    row.addWidget(button)
    return button
