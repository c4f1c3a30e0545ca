"""The Qt side of undo: a QUndoCommand around a core edit (core.dataset.edits).

The command only applies the core edit and keeps the inverse it returns. Typing in one
message merges into one step while the keystrokes come less than MERGE_WINDOW_S apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtGui import QUndoCommand

MERGE_ID = 4001  # any constant; commands without a merge key return -1 (never merged)
MERGE_WINDOW_S = 3.0


class EditCommand(QUndoCommand):
    def __init__(self, apply: Callable, edit, parent: QUndoCommand | None = None) -> None:
        super().__init__(edit.label, parent)
        self._apply = apply  # applies a core edit, returns its inverse, updates the views
        self._forward = edit
        self._inverse = None
        self._last_at = time.monotonic()

    def redo(self) -> None:
        self._inverse = self._apply(self._forward)

    def undo(self) -> None:
        self._forward = self._apply(self._inverse)

    def id(self) -> int:
        return MERGE_ID if getattr(self._forward, "merge_key", None) is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, EditCommand):
            return False
        key = getattr(self._forward, "merge_key", None)
        if key is None or key != getattr(other._forward, "merge_key", None):
            return False
        if other._last_at - self._last_at > MERGE_WINDOW_S:
            return False
        # The other command already ran; its forward edit is our new forward, and our
        # inverse (the state before the first keystroke) stays.
        self._forward = other._forward
        self._last_at = other._last_at
        return True
