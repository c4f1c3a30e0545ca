"""Bulk edits on the Dataset page: replace a phrase in every reply, one system prompt for
all, delete exact duplicates. Each is built from core (core/dataset/edits.py), in the
background for a big dataset, and pushed on the undo stack as one step."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from core.dataset import edits
from core.dataset.validation.system_prompts import system_prompt_counts
from desktop.background import BackgroundTask
from desktop.dataset.dialogs import FindReplaceDialog, SystemPromptDialog
from desktop.dataset.editor import DatasetEditor, snapshot

# Bulk actions on more examples than this are computed in the background.
BACKGROUND_BULK_AT = 5000


class BulkActions(QObject):
    said = Signal(str)  # what the action did (and that Ctrl+Z undoes it)
    failed = Signal(str)  # why nothing was changed
    progress = Signal(int)  # percent, for a background action
    busy = Signal(bool)  # True while a background action runs: the page holds still

    def __init__(self, editor: DatasetEditor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        self.task: BackgroundTask | None = None

    def run(self, build, label: str) -> None:
        """Build a bulk edit (in the background for big datasets) and push it as one macro."""
        dataset = self.editor.dataset
        if dataset is None or self.task is not None:
            return
        if len(dataset) < BACKGROUND_BULK_AT:
            self._finish(build(dataset, None, None), label, self.editor.revision)
            return
        snap, revision = snapshot(dataset), self.editor.revision
        self.task = BackgroundTask(lambda report, cancelled: build(snap, report, cancelled), self)
        self.task.progress.connect(lambda f, _m: self.progress.emit(int(f * 100)))
        self.task.succeeded.connect(lambda result: self._finish(result, label, revision))
        self.task.failed.connect(self.failed)
        self.task.finished.connect(self._task_finished)
        self.busy.emit(True)  # the bulk edit is built from this exact state
        self.task.start()

    def _task_finished(self) -> None:
        self.task = None
        self.busy.emit(False)

    def _finish(self, result: edits.BulkResult, label: str, revision: int) -> None:
        if revision != self.editor.revision:
            self.failed.emit(
                "The dataset changed while the bulk action ran; nothing was changed. Try again."
            )
            return
        if result.edit is not None:
            with self.editor.macro(label):
                self.editor.push(result.edit)
        self.said.emit(result.summary + (" Ctrl+Z undoes it." if result.edit is not None else ""))

    def replace_in_replies(
        self, find: str, replace: str, case_sensitive: bool = True, whole_words: bool = False
    ) -> None:
        self.run(
            lambda ds, report, cancelled: edits.replace_in_assistant_replies(
                ds, find, replace, case_sensitive, whole_words, report, cancelled
            ),
            f"Replace “{find}” in replies",
        )

    def set_system_prompt_for_all(self, prompt: str) -> None:
        self.run(
            lambda ds, report, cancelled: edits.set_system_prompt(ds, prompt, report, cancelled),
            "Set one system prompt",
        )

    def delete_duplicates(self) -> None:
        self.run(
            lambda ds, report, cancelled: edits.remove_duplicates(ds, report, cancelled),
            "Delete exact duplicates",
        )

    # --- the dialogs that ask for an action's values ---------------------------------
    def find_replace_dialog(self, window: QWidget, search_text: str = "") -> None:
        if not self.editor.is_open:  # the Bulk menu is greyed out then; a shortcut is not
            return
        dialog = FindReplaceDialog(window, search_text)
        if dialog.exec():
            find, replace, case, words = dialog.values()
            if find:
                self.replace_in_replies(find, replace, case, words)

    def system_prompt_dialog(self, window: QWidget) -> None:
        if not self.editor.is_open:
            return
        prompts = system_prompt_counts(self.editor.dataset.examples[:2000])
        common = prompts.most_common(1)[0][0] if prompts else ""
        dialog = SystemPromptDialog(window, common, len(prompts))
        if dialog.exec():
            self.set_system_prompt_for_all(dialog.prompt())
