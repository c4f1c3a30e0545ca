"""Undoable run edits: rename and note, thin QUndoCommands over core.runs.store."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand

from core.runs.store import get_note, rename_run, set_note


class RenameRunCommand(QUndoCommand):
    def __init__(self, project, run_id: str, new_name: str, changed: Callable[[str], None]):
        super().__init__(f"Rename run to {new_name!r}")
        self.project, self.run_id, self.new_name = project, run_id, new_name
        self.old_name: str | None = None
        self.changed = changed

    def redo(self) -> None:
        self.old_name = rename_run(self.project, self.run_id, self.new_name)
        self.changed(self.run_id)

    def undo(self) -> None:
        if self.old_name is not None:
            rename_run(self.project, self.run_id, self.old_name)
            self.changed(self.run_id)


class RunNoteCommand(QUndoCommand):
    def __init__(self, project, run_id: str, note: str, changed: Callable[[str], None]):
        super().__init__("Edit run note")
        self.project, self.run_id, self.note = project, run_id, note
        self.old_note = get_note(project, run_id)
        self.changed = changed

    def redo(self) -> None:
        set_note(self.project, self.run_id, self.note)
        self.changed(self.run_id)

    def undo(self) -> None:
        set_note(self.project, self.run_id, self.old_note)
        self.changed(self.run_id)
