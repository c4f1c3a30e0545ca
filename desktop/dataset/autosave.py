"""Autosave: every few seconds, write what changed since the last version to a draft file.

The snapshot (a list of immutable examples) is taken on the GUI thread in a moment; the
file is written by a plain Python thread, so a large dataset never stalls typing. When
the examples are exactly a saved version again, the draft is deleted.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from core.dataset.drafts import discard_draft, new_draft_path, write_draft
from desktop.dataset.editor import DatasetEditor

AUTOSAVE_INTERVAL_MS = 3000
# A draft that takes long to write (a big dataset not saved as a version yet) is written
# less often, so the disk is busy at most a tenth of the time.
BUSY_SHARE = 10


class DraftAutosaver(QObject):
    failed = Signal(str)

    def __init__(self, editor: DatasetEditor, project, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        self.project = project
        self.path: Path | None = None
        self.note = ""  # a note typed for the next version travels with the draft
        self._written_revision = editor.revision
        self._thread: threading.Thread | None = None
        self._error: str | None = None
        self._next_write_at = 0.0
        self._timer = QTimer(self, interval=AUTOSAVE_INTERVAL_MS)
        self._timer.timeout.connect(self.tick)
        self._timer.start()
        editor.version_saved.connect(lambda _version: self._drop_draft())
        editor.reset.connect(self._on_reset)

    def set_project(self, project) -> None:
        self.flush()
        self.project = project
        self.path = None

    def _on_reset(self) -> None:
        """A different dataset was opened: the next draft goes to a new file."""
        self._join()
        self.path = None
        self._written_revision = -1  # a draft that was just restored is written anew

    def _drop_draft(self) -> None:
        self._join()
        discard_draft(self.path)
        self.path = None
        self._written_revision = self.editor.revision

    def _needs_writing(self) -> bool:
        return self.editor.is_open and self.editor.revision != self._written_revision

    def tick(self) -> None:
        """Start a background write if something changed and no write is under way."""
        if self._error is not None:
            error, self._error = self._error, None
            self.failed.emit(error)
        if self._thread is not None and self._thread.is_alive():
            return
        if not self._needs_writing() or time.monotonic() < self._next_write_at:
            return
        job = self._job()
        if job is None:
            return
        self._thread = threading.Thread(
            target=self._run, args=(job,), daemon=True, name="draft autosave"
        )
        self._thread.start()

    def _job(self):
        editor = self.editor
        self._written_revision = editor.revision
        if editor.is_saved:
            discard_draft(self.path)
            self.path = None
            return None
        dataset = editor.dataset
        if self.path is None:
            self.path = new_draft_path(self.project, dataset.name)
        return (
            self.path,
            dataset.name,
            list(dataset.examples),
            editor.base_version,
            editor.base_by_id,
            self.note,
        )

    def _run(self, job) -> None:
        started = time.monotonic()
        try:
            write_draft(*job)
        except Exception as error:  # disk full, permissions: say so, keep editing
            self._error = f"Could not autosave the draft to {job[0]}: {error}"
            self._written_revision = -1  # try again at the next tick
        took = time.monotonic() - started
        self._next_write_at = time.monotonic() + took * BUSY_SHARE

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def flush(self) -> None:
        """Write the draft now, on this thread (before closing or switching projects)."""
        self._join()
        if not self._needs_writing() or time.monotonic() < self._next_write_at:
            return
        job = self._job()
        if job is not None:
            self._run(job)
        if self._error is not None:
            error, self._error = self._error, None
            self.failed.emit(error)

    def discard(self) -> None:
        """The user threw the edits away: delete the draft and write none until the next edit."""
        self._drop_draft()

    def stop(self) -> None:
        self._timer.stop()
        self._join()
