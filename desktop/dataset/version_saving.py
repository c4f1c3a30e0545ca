"""Keeping the Dataset page's edits: save them as a new version (in the background, with
progress), ask about unsaved work before the app quits, export the examples to a file.

The wording comes from core/dataset/edit_status.py; the saving itself is the editor's
(editor.py), which refuses a dataset with errors that would break training.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QProgressBar, QWidget

from core.dataset.edit_status import (
    has_unsaved_work,
    save_refused_message,
    saved_message,
    unsaved_question,
)
from core.dataset.versions import DatasetVersion, next_version_label
from desktop.dataset.autosave import DraftAutosaver
from desktop.dataset.dialogs import SaveVersionDialog
from desktop.dataset.editor import DatasetEditor, snapshot
from desktop.dataset.export_dialog import ExportDialog
from desktop.dataset.header import edit_state


class VersionSaving(QObject):
    said = Signal(str)  # what was saved or written
    failed = Signal(str, list)  # why it was not saved, (label, slot) actions to offer
    errors_wanted = Signal()  # "Show errors": the Findings tab, errors only
    state_changed = Signal()  # a save started or ended: the page's buttons follow

    def __init__(
        self,
        editor: DatasetEditor,
        autosaver: DraftAutosaver,
        progress: QProgressBar,
        window: QWidget,
    ) -> None:
        super().__init__(window)
        self.editor = editor
        self.autosaver = autosaver
        self.progress = progress
        self.window = window  # the parent of the dialogs
        editor.version_saved.connect(self._on_version_saved)
        editor.save_failed.connect(self._on_save_failed)

    def save_dialog(self) -> bool:
        """Ask the version's name, note and split; True when the save started."""
        editor = self.editor
        if not editor.is_open or editor.is_saving:
            return False
        name = editor.dataset.name
        dialog = SaveVersionDialog(
            self.window,
            name,
            editor.base_version is None,
            next_version_label(editor.project, name),
            self.autosaver.note,
        )
        if not dialog.exec():
            return False
        name, note, split = dialog.values()
        return self.save_version(note, name=name or None, split=split)

    def save_version(self, note: str = "", name: str | None = None, split=None) -> bool:
        """Save the examples as the next version (in the background); False if it cannot start."""
        editor = self.editor
        if not editor.is_open or editor.is_saving:
            return False
        if name and editor.base_version is None:
            editor.dataset.name = name
        self.autosaver.note = note
        task = editor.save_as_version(editor.project, note, split)
        if task is None:
            return False
        self.progress.setValue(0)
        self.progress.show()
        task.progress.connect(lambda fraction, _m: self.progress.setValue(int(fraction * 100)))
        task.finished.connect(self.progress.hide)
        task.finished.connect(self.state_changed)
        self.state_changed.emit()
        return True

    def _on_version_saved(self, version: DatasetVersion) -> None:
        self.autosaver.note = ""
        self.said.emit(
            saved_message(version.dataset, version.label, version.n_train, version.n_valid)
        )

    def _on_save_failed(self, message: str, findings: list) -> None:
        actions = [("Show errors", self.errors_wanted.emit)] if findings else []
        self.failed.emit(save_refused_message(message, len(findings)), actions)

    # --- before quitting ------------------------------------------------------------
    def has_unsaved_changes(self) -> bool:
        """Edits that are not a saved version (an empty new dataset has nothing to lose)."""
        return has_unsaved_work(edit_state(self.editor))

    def ask_about_unsaved_work(self) -> bool:
        """Before the window closes: Save / Discard / Cancel for unsaved edits, as editors
        ask. True when closing may go on (saved, or thrown away on purpose)."""
        self.editor.wait_for_save()
        if not self.has_unsaved_changes():
            return True
        base = self.editor.base_version
        text, explanation = unsaved_question(
            self.editor.dataset.name, base.label if base is not None else None
        )
        buttons = QMessageBox.StandardButton
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Save the dataset?",
            text,
            buttons.Save | buttons.Discard | buttons.Cancel,
            self.window,
        )
        box.setInformativeText(explanation)
        box.setDefaultButton(buttons.Save)
        answer = box.exec()
        if answer == buttons.Discard:
            self.autosaver.discard()
            return True
        if answer != buttons.Save or not self.save_dialog():
            return False
        self.editor.wait_for_save()
        return self.editor.is_saved  # a refused save says why on the page; stay open

    # --- export ---------------------------------------------------------------------
    def export_dialog(self) -> None:
        if not self.editor.is_open:
            return
        dialog = ExportDialog(self.window, snapshot(self.editor.dataset))
        if dialog.exec() and dialog.written is not None:
            self.said.emit(dialog.written)
