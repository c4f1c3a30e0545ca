"""What the user does to single examples on the Dataset page: add, duplicate, delete, move,
mark reviewed, jump to a finding and fix it; and which example the conversation shows.

Each action is a core edit (core/dataset/edits.py) pushed on the editor's one undo stack,
so Ctrl+Z takes back every one of them. The same example stays shown across inserts,
removals, moves and undo (it is followed by id, not by row).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut

from core.dataset import edits
from core.dataset.validation.system_prompts import most_common_system_prompt
from core.figures import count_text
from desktop.dataset.conversation_view import ConversationView
from desktop.dataset.editor import DatasetEditor
from desktop.dataset.examples_model import ExamplesTableModel
from desktop.dataset.examples_panel import ExamplesPanel
from desktop.dataset.finding_fixes import fix_all, fix_one

# The first examples are enough to guess the system prompt and keep a new example instant.
PROMPT_GUESS_FROM = 500


class ExampleActions(QObject):
    said = Signal(str)  # what an action did (and that Ctrl+Z undoes it)
    examples_tab_wanted = Signal()  # show the Examples tab (a finding was clicked)
    new_dataset_wanted = Signal()  # "New example" with no dataset open starts one
    findings_shown = Signal()  # the findings were brought up to date on screen

    def __init__(
        self,
        editor: DatasetEditor,
        model: ExamplesTableModel,
        panel: ExamplesPanel,
        conversation: ConversationView,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.editor = editor
        self.model = model
        self.panel = panel
        self.conversation = conversation
        self.current_id: str | None = None  # the example shown, followed across edits
        editor.replaced.connect(self._on_replaced)
        for signal in (editor.inserted, editor.removed, editor.moved):
            signal.connect(self._follow_current)
        # Findings and tags arrive in bursts while typing: show them after a short pause.
        self._findings_timer = QTimer(self, singleShot=True, interval=120)
        self._findings_timer.timeout.connect(self._refresh_findings_view)
        editor.findings_changed.connect(self._findings_timer.start)
        self._tags_timer = QTimer(self, singleShot=True, interval=800)
        self._tags_timer.timeout.connect(self.refresh_tags)
        editor.edited.connect(self._tags_timer.start)

        panel.current_changed.connect(self.show_current)
        panel.delete_requested.connect(self.delete_selected)
        panel.new_button.clicked.connect(self.new_example)
        panel.duplicate_button.clicked.connect(self.duplicate_selected)
        panel.up_button.clicked.connect(lambda: self.move_current(-1))
        panel.down_button.clicked.connect(lambda: self.move_current(1))
        conversation.fix_requested.connect(self.fix_finding)
        table = panel.table
        for keys, slot in (
            (QKeySequence.StandardKey.Delete, self.delete_selected),
            ("Alt+Up", lambda: self.move_current(-1)),
            ("Alt+Down", lambda: self.move_current(1)),
        ):
            shortcut = QShortcut(QKeySequence(keys), table)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(slot)

    # --- actions --------------------------------------------------------------------
    def new_example(self) -> None:
        editor = self.editor
        if not editor.is_open:
            self.new_dataset_wanted.emit()
            return
        current = self.panel.current_index
        at = len(editor.dataset) if current is None else current + 1
        prompt = most_common_system_prompt(editor.dataset.examples[:PROMPT_GUESS_FROM])
        example = edits.new_example(prompt)
        editor.push(edits.add_examples(editor.dataset, [example], at, "New example"))
        self.current_id = example.id
        self.panel.select(at)
        self.focus_first_empty_message()

    def duplicate_selected(self) -> None:
        indices = self.panel.selected_indices()
        if self.editor.is_open and indices:
            self.editor.push(edits.duplicate_examples(self.editor.dataset, indices))

    def delete_selected(self) -> None:
        indices = self.panel.selected_indices()
        if self.editor.is_open and indices:
            self.editor.push(edits.remove_examples(indices))
            self.said.emit(
                f"Deleted {count_text(len(indices), 'example')}. Ctrl+Z brings them back."
            )

    def move_current(self, delta: int) -> None:
        current = self.panel.current_index
        if not self.editor.is_open or current is None:
            return
        target = current + delta
        if 0 <= target < len(self.editor.dataset):
            self.editor.push(edits.MoveExample(current, target))

    def mark_shown_reviewed(self, reviewed: bool) -> None:
        if not self.editor.is_open:
            return
        indices = [self.model.dataset_index(row) for row in range(self.model.rowCount())]
        if self.editor.push(edits.set_reviewed(self.editor.dataset, indices, reviewed)):
            self.said.emit(f"Marked {count_text(len(indices), 'example')} as reviewed.")

    # --- findings -------------------------------------------------------------------
    def jump_to(self, finding, example) -> None:
        """Show the finding's example (clearing filters that hide it) and its message."""
        self.examples_tab_wanted.emit()
        if example is None:
            return
        index = self.editor.position_of(example)
        if index is None:
            return
        if self.model.row_of(index) is None:
            self.panel.clear_filters()
            self.model.finish_filtering()
        self.panel.select(index)
        self.conversation.focus_message(finding.message_index)

    def fix_finding(self, finding, example) -> bool:
        return fix_one(self.editor, finding, example)

    def fix_all(self) -> int:
        """Apply every certain fix as one undo step; returns how many examples it touched."""
        touched, message = fix_all(self.editor)
        if message:
            self.said.emit(message)
        return touched

    # --- the example shown ----------------------------------------------------------
    def select(self, index: int | None, example_id: str | None = None) -> None:
        """Show the example at index (followed by example_id through later edits)."""
        if example_id is not None:
            self.current_id = example_id
        self.panel.select(index)

    def after_reset(self) -> None:
        """A dataset was opened or closed: its tags in the filter, its first example shown."""
        self.refresh_tags()
        opened = self.editor.is_open and len(self.editor.dataset) > 0
        self.panel.select(0 if opened else None)

    def show_current(self, index: int | None) -> None:
        dataset = self.editor.dataset
        if dataset is None or index is None or not 0 <= index < len(dataset):
            self.current_id = None
            self.conversation.show_example(None, None)
            return
        example = dataset.examples[index]
        self.current_id = example.id
        self.conversation.show_example(dataset, index, self.editor.findings_for(example))

    def focus_first_empty_message(self) -> None:
        for bubble in self.conversation.bubbles:
            if not bubble.text_edit.toPlainText():
                bubble.text_edit.setFocus()
                return

    def refresh_tags(self) -> None:
        dataset = self.editor.dataset
        self.panel.set_tags(dataset.all_tags() if dataset is not None else [])

    def _on_replaced(self, indices: list[int]) -> None:
        current = self.panel.current_index
        if current is not None and current in indices:
            self.show_current(current)

    def _follow_current(self, *_args) -> None:
        """After inserts, removals and moves, follow the same example to its new place."""
        dataset = self.editor.dataset
        if dataset is None:
            return
        index = dataset.index_of(self.current_id) if self.current_id else None
        if index is None:
            previous = self.panel.current_index or 0
            index = min(previous, len(dataset) - 1) if len(dataset) else None
        self.panel.select(index)

    def _refresh_findings_view(self) -> None:
        current = self.panel.current_index
        dataset = self.editor.dataset
        if dataset is not None and current is not None and 0 <= current < len(dataset):
            self.conversation.set_findings(self.editor.findings_for(dataset.examples[current]))
        self.findings_shown.emit()
