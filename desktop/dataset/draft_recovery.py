"""Unsaved edits kept from an earlier session (core/dataset/drafts.py): the notice above the
editor that offers them, and discarding one. Restoring opens it in the editor, which the
page does (it owns the editor)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from core.dataset.drafts import DraftInfo, discard_draft, list_drafts
from desktop.dataset.autosave import DraftAutosaver
from desktop.dataset.notice_bar import NoticeBar
from desktop.theme import WARNING


class DraftRecovery(QObject):
    restore_requested = Signal()  # "Restore them": the newest pending draft

    def __init__(self, autosaver: DraftAutosaver, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.autosaver = autosaver
        self.pending: list[DraftInfo] = []  # newest first
        self.bar = NoticeBar(WARNING)

    def reload(self, project) -> None:
        """The project's kept drafts, offered above the editor."""
        self.pending = list_drafts(project)
        self.show_offer()

    def show_offer(self) -> None:
        """Offer the newest draft that is not this session's own; hide when none is left."""
        current = self.autosaver.path
        self.pending = [d for d in self.pending if d.path != current and d.path.exists()]
        if not self.pending:
            self.bar.hide()
            return
        draft = self.pending[0]
        more = len(self.pending) - 1
        self.bar.show_notice(
            f"<b>Unsaved edits were kept for you:</b> {draft.describe()}."
            + (f" ({more} older draft{'s' if more > 1 else ''} too.)" if more else ""),
            [("Restore them", self._restore_clicked), ("Discard", self.discard)],
        )

    def _restore_clicked(self, *_args) -> None:
        self.restore_requested.emit()

    def restored(self, draft: DraftInfo) -> None:
        """The draft now lives in this session's own draft: its old file goes."""
        discard_draft(draft.path)
        self.pending = [d for d in self.pending if d.path != draft.path]
        self.show_offer()

    def discard(self, *_args) -> None:
        if self.pending:
            discard_draft(self.pending.pop(0).path)
        self.show_offer()
