"""The top of the Dataset page: the dataset's name and state, undo and redo, and the
Import, Export, Bulk actions and Save buttons (the page wires them to their actions).

On the Preference pairs tab it speaks for the pairs instead: their title and state, and
none of the chat dataset's buttons (the pairs have their own import and save)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.dataset.edit_status import EditState, save_button_text, status_line
from desktop.dataset.editor import DatasetEditor
from desktop.dataset.preference_panel import PreferencePanel
from desktop.theme import ACCENT


def edit_state(editor: DatasetEditor) -> EditState:
    """The editor's facts that the page's words depend on (core/dataset/edit_status.py)."""
    base = editor.base_version
    return EditState(
        is_open=editor.is_open,
        n_examples=len(editor.dataset) if editor.is_open else 0,
        base_label=base.label if base is not None else None,
        base_saved_at=base.created_at if base is not None else "",
        clean=editor.stack.isClean(),
        saved=editor.is_saved,
    )


class DatasetHeader(QWidget):
    def __init__(self, editor: DatasetEditor) -> None:
        super().__init__()
        self.editor = editor
        self._pairs: PreferencePanel | None = None
        self._pairs_shown = False
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)  # as the page's own rows
        titles = QVBoxLayout()
        titles.setSpacing(0)
        self.title = QLabel("Dataset")
        self.title.setObjectName("pageTitle")
        self.title.setStyleSheet("font-size: 22px; font-weight: 600;")
        self.state_label = QLabel()
        self.state_label.setStyleSheet("color: palette(placeholder-text);")
        titles.addWidget(self.title)
        titles.addWidget(self.state_label)
        row.addLayout(titles, 1)

        self.undo_action = editor.stack.createUndoAction(self, "Undo")
        self.redo_action = editor.stack.createRedoAction(self, "Redo")
        self.undo_button = QToolButton()
        self.undo_button.setDefaultAction(self.undo_action)
        self.undo_button.setText("↶ Undo")
        self.undo_button.setToolTip("Undo the last change (Ctrl+Z)")
        self.redo_button = QToolButton()
        self.redo_button.setDefaultAction(self.redo_action)
        self.redo_button.setText("↷ Redo")
        self.redo_button.setToolTip("Redo (Ctrl+Shift+Z)")
        for button in (self.undo_button, self.redo_button):
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            row.addWidget(button)
        row.addSpacing(10)
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip(
            "Add examples from a JSONL, Alpaca, ShareGPT, CSV, TSV or Parquet file"
        )
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the examples to a file in another format")
        self.bulk_button = QPushButton("Bulk actions")
        self.bulk_button.setToolTip("Changes to many examples at once (each one undoable)")
        self.bulk_menu = QMenu(self.bulk_button)
        self.bulk_button.setMenu(self.bulk_menu)
        self.save_button = QPushButton("Save as new version…")
        self.save_button.setToolTip("Keep an unchangeable copy for training (Ctrl+S)")
        self.save_button.setStyleSheet(
            f"QPushButton {{ background: {ACCENT}; color: white; border-radius: 5px; padding: 5px 14px; }}"
            "QPushButton:disabled { background: palette(mid); }"
        )
        for button in (self.import_button, self.export_button, self.bulk_button, self.save_button):
            row.addWidget(button)
        # What acts on the chat dataset: hidden while the header speaks for the pairs.
        self.chat_buttons = (
            self.undo_button,
            self.redo_button,
            self.import_button,
            self.export_button,
            self.bulk_button,
            self.save_button,
        )

    def follow_pairs(self, panel: PreferencePanel) -> None:
        """The Preference pairs tab whose title and state this header shows while it is
        current (show_pairs)."""
        self._pairs = panel
        panel.changed.connect(self.show_state)

    def show_pairs(self, shown: bool) -> None:
        """Speak for the preference pairs (True) or the chat dataset (False). The chat
        dataset's name and Undo/Import/Export/Save over the pairs read as the pairs'."""
        self._pairs_shown = shown and self._pairs is not None
        for button in self.chat_buttons:
            button.setVisible(not self._pairs_shown)
        self.show_state()

    def show_state(self) -> None:
        """Title, state line and which buttons can act, from the editor's state now."""
        if self._pairs_shown:
            self.title.setText("Preference pairs")
            self.state_label.setText(self._pairs.state_line())
            return
        editor = self.editor
        state = edit_state(editor)
        self.title.setText(editor.dataset.name if editor.is_open else "Dataset")
        self.state_label.setText(status_line(state))
        for widget in (self.export_button, self.bulk_button, self.save_button):
            widget.setEnabled(editor.is_open and not editor.is_saving)
        self.save_button.setText(save_button_text(state))
        if editor.is_saved:
            self.save_button.setEnabled(False)
