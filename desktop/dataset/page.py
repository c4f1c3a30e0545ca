"""The Dataset page: read, write, check and version the chat examples, without writing code.

The page assembles the parts (list, conversation, findings, statistics, versions) and
turns the user's actions into core edits pushed on one undo stack. Dialogs only collect
values; the methods they call (`save_version`, `replace_in_replies`, `import_dataset`,
...) are what the tests drive.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.dataset import edits
from core.dataset.drafts import DraftError, DraftInfo, list_drafts, load_draft
from core.dataset.model import Dataset
from core.dataset.validation import ValidationOptions
from core.dataset.validation.system_prompts import (
    most_common_system_prompt,
    system_prompt_counts,
)
from core.dataset.versions import (
    DatasetVersion,
    latest_version,
    load_version,
    next_version_label,
)
from core.figures import count_text
from core.handoff import DraftsForDataset
from desktop.background import BackgroundTask
from desktop.context import AppContext
from desktop.dataset.autosave import DraftAutosaver
from desktop.dataset.bulk_actions import BulkActions
from desktop.dataset.conversation_view import ConversationView
from desktop.dataset.dialogs import FindReplaceDialog, SaveVersionDialog, SystemPromptDialog
from desktop.dataset.draft_recovery import DraftRecovery
from desktop.dataset.editor import DatasetEditor, snapshot, wait_for_task
from desktop.dataset.empty_state import EmptyState
from desktop.dataset.examples_model import ExamplesTableModel
from desktop.dataset.examples_panel import ExamplesPanel
from desktop.dataset.export_dialog import ExportDialog
from desktop.dataset.finding_fixes import fix_all, fix_one
from desktop.dataset.findings_panel import FindingsPanel
from desktop.dataset.import_dialog import ImportDialog
from desktop.dataset.notice_bar import NoticeBar
from desktop.dataset.preference_panel import PreferencePanel
from desktop.dataset.stats_panel import StatsPanel
from desktop.dataset.versions_panel import VersionsPanel
from desktop.theme import ACCENT, BAD

NEW_DATASET_NAME = "my-dataset"
DRAFT_TAG = "draft"
# Versions with more examples than this are read in the background (a progress bar shows).
BACKGROUND_OPEN_AT = 20_000
TAB_EXAMPLES, TAB_FINDINGS, TAB_STATS, TAB_VERSIONS = range(4)


def create_page(context: AppContext) -> QWidget:
    return DatasetPage(context)


class DatasetPage(QWidget):
    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.project = context.project
        self.editor = DatasetEditor(self)
        self.editor.project = self.project
        self.autosaver = DraftAutosaver(self.editor, self.project, self)
        self.model = ExamplesTableModel(self.editor, self)
        self.last_message = ""
        # Drafts kept from an earlier session, offered above the editor (draft_recovery.py).
        self.drafts = DraftRecovery(self.autosaver, self)
        self.drafts.restore_requested.connect(self.restore_draft)
        self._current_id: str | None = None
        self._open_task: BackgroundTask | None = None
        self._build()
        self.bulk = BulkActions(self.editor, self)
        self.bulk.said.connect(self._say)
        self.bulk.failed.connect(self._notify)
        self.bulk.progress.connect(self.progress.setValue)
        self.bulk.busy.connect(self._bulk_busy)
        self._connect()
        context.project_changed.connect(self.set_project)
        # A version saved elsewhere (the CLI, another page) joins the Versions tab at once.
        context.events.version_saved.connect(self._version_saved_elsewhere)
        self.set_project(self.project)

    # --- layout ---------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 12)
        layout.setSpacing(8)

        header = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(0)
        self.title = QLabel("Dataset")
        self.title.setObjectName("pageTitle")
        self.title.setStyleSheet("font-size: 22px; font-weight: 600;")
        self.state_label = QLabel()
        self.state_label.setStyleSheet("color: palette(placeholder-text);")
        titles.addWidget(self.title)
        titles.addWidget(self.state_label)
        header.addLayout(titles, 1)

        stack = self.editor.stack
        self.undo_action = stack.createUndoAction(self, "Undo")
        self.redo_action = stack.createRedoAction(self, "Redo")
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
            header.addWidget(button)
        header.addSpacing(10)
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip(
            "Add examples from a JSONL, Alpaca, ShareGPT, CSV, TSV or Parquet file"
        )
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the examples to a file in another format")
        self.bulk_button = QPushButton("Bulk actions")
        self.bulk_button.setToolTip("Changes to many examples at once (each one undoable)")
        bulk_menu = QMenu(self.bulk_button)
        bulk_menu.addAction("Find and replace in assistant replies…", self.find_replace_dialog)
        bulk_menu.addAction("Set one system prompt for all…", self.system_prompt_dialog)
        bulk_menu.addAction("Delete exact duplicates", self.delete_duplicates)
        bulk_menu.addSeparator()
        bulk_menu.addAction("Mark all shown as reviewed", lambda: self.mark_shown_reviewed(True))
        bulk_menu.addAction("Fix all certain problems", self.fix_all)
        self.bulk_button.setMenu(bulk_menu)
        self.save_button = QPushButton("Save as new version…")
        self.save_button.setToolTip("Keep an unchangeable copy for training (Ctrl+S)")
        self.save_button.setStyleSheet(
            f"QPushButton {{ background: {ACCENT}; color: white; border-radius: 5px; padding: 5px 14px; }}"
            "QPushButton:disabled { background: palette(mid); }"
        )
        for button in (self.import_button, self.export_button, self.bulk_button, self.save_button):
            header.addWidget(button)
        layout.addLayout(header)

        self.recovery_bar = self.drafts.bar
        layout.addWidget(self.recovery_bar)
        self.notice_bar = NoticeBar(BAD)
        layout.addWidget(self.notice_bar)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumHeight(8)
        self.progress.setTextVisible(False)
        self.progress.hide()
        layout.addWidget(self.progress)

        self.stack = QStackedWidget()
        self.empty_state = EmptyState()
        self.stack.addWidget(self.empty_state)

        self.tabs = QTabWidget()
        self.examples_panel = ExamplesPanel(self.model)
        self.conversation = ConversationView(self.editor.push, stack.undo, stack.redo)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.examples_panel)
        splitter.addWidget(self.conversation)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([540, 520])
        splitter.setChildrenCollapsible(False)
        self.splitter = splitter
        self.tabs.addTab(splitter, "Examples")
        self.findings_panel = FindingsPanel(self.editor)
        self.tabs.addTab(self.findings_panel, "Findings")
        self.stats_panel = StatsPanel(self.editor)
        self.tabs.addTab(self.stats_panel, "Statistics")
        self.versions_panel = VersionsPanel(self.project)
        self.tabs.addTab(self.versions_panel, "Versions")
        self.preferences_panel = PreferencePanel(self.project)
        self.tabs.addTab(self.preferences_panel, "Preference pairs")
        self.stack.addWidget(self.tabs)
        layout.addWidget(self.stack, 1)

    def _connect(self) -> None:
        editor = self.editor
        editor.reset.connect(self._on_reset)
        editor.replaced.connect(self._on_replaced)
        editor.inserted.connect(self._on_structure_changed)
        editor.removed.connect(self._on_structure_changed)
        editor.moved.connect(self._on_structure_changed)
        editor.edited.connect(self._update_state)
        editor.findings_changed.connect(self._findings_timer_start)
        editor.stack.cleanChanged.connect(self._update_state)
        editor.version_saved.connect(self._on_version_saved)
        editor.save_failed.connect(self._on_save_failed)
        self.autosaver.failed.connect(lambda message: self._notify(message))

        self.examples_panel.current_changed.connect(self._show_current)
        self.examples_panel.delete_requested.connect(self.delete_selected)
        self.examples_panel.new_button.clicked.connect(self.new_example)
        self.examples_panel.duplicate_button.clicked.connect(self.duplicate_selected)
        self.examples_panel.up_button.clicked.connect(lambda: self.move_current(-1))
        self.examples_panel.down_button.clicked.connect(lambda: self.move_current(1))
        self.conversation.fix_requested.connect(self.fix_finding)
        self.findings_panel.jump_requested.connect(self.jump_to)
        self.findings_panel.fix_all_requested.connect(self.fix_all)
        self.versions_panel.open_requested.connect(self.open_version)
        self.stats_panel.length_settings_changed.connect(self._length_settings_changed)

        self.empty_state.import_requested.connect(self.import_dialog)
        self.empty_state.new_requested.connect(self.new_dataset)
        self.empty_state.preferences_requested.connect(self.show_preferences)
        self.import_button.clicked.connect(self.import_dialog)
        self.export_button.clicked.connect(self.export_dialog)
        self.save_button.clicked.connect(self.save_dialog)
        self.tabs.currentChanged.connect(self._tab_changed)

        self._findings_timer = QTimer(self, singleShot=True, interval=120)
        self._findings_timer.timeout.connect(self._refresh_findings_view)
        self._tags_timer = QTimer(self, singleShot=True, interval=800)
        self._tags_timer.timeout.connect(self._refresh_tags)
        editor.edited.connect(self._tags_timer.start)

        def shortcut(
            keys, slot, widget=None, context=Qt.ShortcutContext.WidgetWithChildrenShortcut
        ):
            item = QShortcut(QKeySequence(keys), widget or self)
            item.setContext(context)
            item.activated.connect(slot)
            return item

        shortcut(QKeySequence.StandardKey.Undo, editor.stack.undo)
        shortcut("Ctrl+Shift+Z", editor.stack.redo)
        shortcut("Ctrl+Y", editor.stack.redo)
        shortcut(QKeySequence.StandardKey.Save, self.save_dialog)
        shortcut(QKeySequence.StandardKey.Find, self.focus_search)
        table = self.examples_panel.table
        shortcut(
            QKeySequence.StandardKey.Delete,
            self.delete_selected,
            table,
            Qt.ShortcutContext.WidgetShortcut,
        )
        shortcut("Alt+Up", lambda: self.move_current(-1), table, Qt.ShortcutContext.WidgetShortcut)
        shortcut("Alt+Down", lambda: self.move_current(1), table, Qt.ShortcutContext.WidgetShortcut)

    # --- project and opening --------------------------------------------------------
    def set_project(self, project) -> None:
        """Show the project's newest dataset version, and offer to restore unsaved drafts."""
        self.autosaver.set_project(project)
        self.project = project
        self.editor.project = project
        self.versions_panel.set_project(project)
        self.preferences_panel.set_project(project)
        self.drafts.pending = list_drafts(project)
        latest = latest_version(project)
        if latest is not None:
            self._open_version(latest)
        else:
            self.editor.close_dataset()
        self.drafts.show_offer()
        self._update_state()

    def _open(self, dataset: Dataset, version: DatasetVersion | None, **kwargs) -> None:
        """Edit another dataset; unsaved edits to this one stay in their draft, offered above."""
        self.autosaver.flush()
        set_aside = self.autosaver.path
        self._current_id = None
        self.examples_panel.clear_filters()
        self.editor.open(dataset, version, **kwargs)
        if set_aside is not None and set_aside.exists():
            self.drafts.reload(self.project)

    def open_version(self, version: DatasetVersion) -> None:
        """Edit a saved version (unsaved edits stay in their draft, restorable later)."""
        self._open_version(version)
        self.tabs.setCurrentIndex(TAB_EXAMPLES)

    def _open_version(self, version: DatasetVersion) -> None:
        """Open a version: at once when small, else read in the background with progress."""
        if version.n_examples < BACKGROUND_OPEN_AT:
            self._open(version.load_dataset(), version)
            self._say(f"Opened {version.dataset} {version.label}.")
            return
        if self._open_task is not None:
            return
        self.autosaver.flush()
        self.state_label.setText(
            f"Opening {version.dataset} {version.label} ({version.n_examples:,} examples)…"
        )
        self.progress.setRange(0, 0)
        self.progress.show()
        task = BackgroundTask(lambda report, cancelled: version.load_dataset(), self)
        task.succeeded.connect(lambda dataset: self._open_loaded(dataset, version))
        task.failed.connect(
            lambda message: self._notify(f"Could not open {version.label}: {message}")
        )
        task.finished.connect(self._open_finished)
        self._open_task = task
        task.start()

    def _open_loaded(self, dataset: Dataset, version: DatasetVersion) -> None:
        self._open(dataset, version)
        self._say(f"Opened {version.dataset} {version.label}.")

    def _open_finished(self) -> None:
        self._open_task = None
        self.progress.hide()
        self.progress.setRange(0, 100)
        self._update_state()

    def wait_for_open(self, timeout_ms: int = 60_000) -> None:
        wait_for_task(self._open_task, timeout_ms)

    def new_dataset(self) -> None:
        self._open(Dataset([edits.new_example()], name=NEW_DATASET_NAME), None)
        self.tabs.setCurrentIndex(TAB_EXAMPLES)
        self._focus_first_empty_message()

    @property
    def pending_drafts(self) -> list[DraftInfo]:
        return self.drafts.pending

    def restore_draft(self, draft: DraftInfo | None = None) -> bool:
        """Open a kept draft (the newest by default) as unsaved edits to its base version."""
        draft = draft or (self.drafts.pending[0] if self.drafts.pending else None)
        if draft is None:
            return False
        try:
            dataset, base, base_by_id = load_draft(self.project, draft)
        except (DraftError, OSError) as error:
            self._notify(f"The draft could not be restored: {error}")
            return False
        self._open(dataset, base, base_by_id=base_by_id, modified=True)
        self.autosaver.note = draft.note
        # The restored edits now live in this session's draft; the old file can go.
        self.autosaver.flush()
        self.drafts.restored(draft)
        self.tabs.setCurrentIndex(TAB_EXAMPLES)
        self._say(
            f"Restored {len(dataset):,} examples from the draft of {draft.saved_at[:16].replace('T', ' ')}."
        )
        return True

    def discard_pending_draft(self) -> None:
        self.drafts.discard()

    # --- showing --------------------------------------------------------------------
    def show_preferences(self) -> None:
        """The Preference pairs tab, also with no chat dataset open."""
        self.stack.setCurrentWidget(self.tabs)
        self.tabs.setCurrentWidget(self.preferences_panel)

    def _on_reset(self) -> None:
        opened = self.editor.is_open
        self.stack.setCurrentIndex(1 if opened else 0)
        self._refresh_tags()
        if opened and len(self.editor.dataset):
            self.examples_panel.select(0)
        else:
            self.examples_panel.select(None)
        self._update_state()

    def _show_current(self, index: int | None) -> None:
        dataset = self.editor.dataset
        if dataset is None or index is None or not 0 <= index < len(dataset):
            self._current_id = None
            self.conversation.show_example(None, None)
            return
        example = dataset.examples[index]
        self._current_id = example.id
        self.conversation.show_example(dataset, index, self.editor.findings_for(example))

    def _on_replaced(self, indices: list[int]) -> None:
        current = self.examples_panel.current_index
        if current is not None and current in indices:
            self._show_current(current)

    def _on_structure_changed(self, *_args) -> None:
        """After inserts, removals and moves, follow the same example to its new place."""
        dataset = self.editor.dataset
        if dataset is None:
            return
        index = dataset.index_of(self._current_id) if self._current_id else None
        if index is None:
            previous = self.examples_panel.current_index or 0
            index = min(previous, len(dataset) - 1) if len(dataset) else None
        self.examples_panel.select(index)

    def _findings_timer_start(self) -> None:
        self._findings_timer.start()

    def _refresh_findings_view(self) -> None:
        current = self.examples_panel.current_index
        dataset = self.editor.dataset
        if dataset is not None and current is not None and 0 <= current < len(dataset):
            self.conversation.set_findings(self.editor.findings_for(dataset.examples[current]))
        counts = self.editor.counts()
        problems = counts["error"] + counts["warning"]
        self.tabs.setTabText(TAB_FINDINGS, f"Findings ({problems:,})" if problems else "Findings")

    def _refresh_tags(self) -> None:
        dataset = self.editor.dataset
        self.examples_panel.set_tags(dataset.all_tags() if dataset is not None else [])

    def _update_state(self, *_args) -> None:
        editor = self.editor
        base_id = editor.base_version.id if editor.base_version is not None else None
        if base_id != self.versions_panel.open_version_id:
            self.versions_panel.set_open_version(base_id)
        if not editor.is_open:
            self.title.setText("Dataset")
            self.state_label.setText("No dataset in this project yet.")
        else:
            self.title.setText(editor.dataset.name)
            n = len(editor.dataset)
            base = editor.base_version
            if base is None:
                state = "not saved as a version yet · edits are autosaved as a draft"
            elif editor.stack.isClean():
                state = f"{base.label} · saved {base.created_at[:10]}"
            else:
                state = f"● unsaved changes to {base.label} · autosaved as a draft"
            self.state_label.setText(f"{n:,} examples · {state}")
        for widget in (self.export_button, self.bulk_button, self.save_button):
            widget.setEnabled(editor.is_open and not editor.is_saving)
        self.save_button.setText(
            "Save as new version…"
            if editor.base_version is None or not editor.is_saved
            else "Saved ✓"
        )
        if editor.is_saved:
            self.save_button.setEnabled(False)

    def _length_settings_changed(self, tokenizer, max_seq_length: int) -> None:
        """With a tokenizer chosen, the checks also say which examples max_seq_length cuts."""
        self.editor.validation_options = ValidationOptions(
            max_seq_length=max_seq_length, tokenizer=tokenizer
        )
        self.editor.check_later()

    def _tab_changed(self, index: int) -> None:
        if index == TAB_STATS:
            self.stats_panel.refresh_if_stale()
        elif index == TAB_VERSIONS:
            self.versions_panel.refresh()

    def focus_search(self) -> None:
        self.tabs.setCurrentIndex(TAB_EXAMPLES)
        self.examples_panel.search.setFocus()
        self.examples_panel.search.selectAll()

    def _focus_first_empty_message(self) -> None:
        for bubble in self.conversation.bubbles:
            if not bubble.text_edit.toPlainText():
                bubble.text_edit.setFocus()
                return

    def _say(self, text: str) -> None:
        self.last_message = text
        self.context.show_status(text, 8000)

    def _notify(self, text: str, actions: list | None = None) -> None:
        """A problem the user must see (not a modal dialog: the page stays usable)."""
        self.last_message = text
        self.notice_bar.show_notice(text, (actions or []) + [("Close", self.notice_bar.hide)])

    # --- examples -------------------------------------------------------------------
    def new_example(self) -> None:
        if not self.editor.is_open:
            self.new_dataset()
            return
        current = self.examples_panel.current_index
        at = len(self.editor.dataset) if current is None else current + 1
        # The first 500 examples are enough to guess the prompt and keep a new example instant.
        example = edits.new_example(most_common_system_prompt(self.editor.dataset.examples[:500]))
        self.editor.push(edits.add_examples(self.editor.dataset, [example], at, "New example"))
        self._current_id = example.id
        self.examples_panel.select(at)
        self._focus_first_empty_message()

    def duplicate_selected(self) -> None:
        indices = self.examples_panel.selected_indices()
        if self.editor.is_open and indices:
            self.editor.push(edits.duplicate_examples(self.editor.dataset, indices))

    def delete_selected(self) -> None:
        indices = self.examples_panel.selected_indices()
        if self.editor.is_open and indices:
            self.editor.push(edits.remove_examples(indices))
            self._say(f"Deleted {len(indices)} example(s). Ctrl+Z brings them back.")

    def move_current(self, delta: int) -> None:
        current = self.examples_panel.current_index
        if not self.editor.is_open or current is None:
            return
        target = current + delta
        if 0 <= target < len(self.editor.dataset):
            self.editor.push(edits.MoveExample(current, target))

    def mark_shown_reviewed(self, reviewed: bool) -> None:
        if not self.editor.is_open:
            return
        model = self.model
        indices = [model.dataset_index(row) for row in range(model.rowCount())]
        if self.editor.push(edits.set_reviewed(self.editor.dataset, indices, reviewed)):
            self._say(f"Marked {count_text(len(indices), 'example')} as reviewed.")

    # --- findings -------------------------------------------------------------------
    def jump_to(self, finding, example) -> None:
        """Show the finding's example (clearing filters that hide it) and its message."""
        self.tabs.setCurrentIndex(TAB_EXAMPLES)
        if example is None:
            return
        index = self.editor.position_of(example)
        if index is None:
            return
        if self.model.row_of(index) is None:
            self.examples_panel.clear_filters()
            self.model.finish_filtering()
        self.examples_panel.select(index)
        self.conversation.focus_message(finding.message_index)

    def fix_finding(self, finding, example) -> bool:
        return fix_one(self.editor, finding, example)

    def fix_all(self) -> int:
        """Apply every certain fix as one undo step; returns how many examples it touched."""
        touched, message = fix_all(self.editor)
        if message:
            self._say(message)
        return touched

    # --- bulk actions (bulk_actions.py) ----------------------------------------------
    def _bulk_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.setEnabled(not busy)  # the bulk edit is built from this exact state

    def replace_in_replies(
        self, find: str, replace: str, case_sensitive: bool = True, whole_words: bool = False
    ) -> None:
        self.bulk.replace_in_replies(find, replace, case_sensitive, whole_words)

    def set_system_prompt_for_all(self, prompt: str) -> None:
        self.bulk.set_system_prompt_for_all(prompt)

    def delete_duplicates(self) -> None:
        self.bulk.delete_duplicates()

    def find_replace_dialog(self) -> None:
        if not self.editor.is_open:  # the Bulk menu is greyed out then; a shortcut is not
            return

        dialog = FindReplaceDialog(self, self.examples_panel.search.text())
        if dialog.exec():
            find, replace, case, words = dialog.values()
            if find:
                self.replace_in_replies(find, replace, case, words)

    def system_prompt_dialog(self) -> None:
        if not self.editor.is_open:
            return

        prompts = system_prompt_counts(self.editor.dataset.examples[:2000])
        common = prompts.most_common(1)[0][0] if prompts else ""
        dialog = SystemPromptDialog(self, common, len(prompts))
        if dialog.exec():
            self.set_system_prompt_for_all(dialog.prompt())

    # --- saving ---------------------------------------------------------------------
    def save_dialog(self) -> bool:
        """Ask the version's name, note and split; True when the save started."""
        if not self.editor.is_open or self.editor.is_saving:
            return False

        name = self.editor.dataset.name
        dialog = SaveVersionDialog(
            self,
            name,
            self.editor.base_version is None,
            next_version_label(self.project, name),
            self.autosaver.note,
        )
        if not dialog.exec():
            return False
        name, note, split = dialog.values()
        return self.save_version(note, name=name or None, split=split)

    def save_version(self, note: str = "", name: str | None = None, split=None) -> bool:
        """Save the examples as the next version (in the background); False if it cannot start."""
        if not self.editor.is_open or self.editor.is_saving:
            return False
        if name and self.editor.base_version is None:
            self.editor.dataset.name = name
        self.autosaver.note = note
        task = self.editor.save_as_version(self.project, note, split)
        if task is None:
            return False
        self.progress.setValue(0)
        self.progress.show()
        task.progress.connect(lambda fraction, _m: self.progress.setValue(int(fraction * 100)))
        task.finished.connect(self.progress.hide)
        task.finished.connect(self._update_state)
        self._update_state()
        return True

    def _on_version_saved(self, version: DatasetVersion) -> None:
        self.notice_bar.hide()
        self.autosaver.note = ""
        self.versions_panel.refresh()
        self._update_state()
        self._say(
            f"Saved {version.dataset} {version.label}: {version.n_train:,} for training, "
            f"{version.n_valid:,} for validation."
        )

    def _version_saved_elsewhere(self, _version_id: str) -> None:
        self.versions_panel.refresh()

    def _on_save_failed(self, message: str, findings: list) -> None:
        if findings:
            self._notify(
                f"Not saved: {count_text(len(findings), 'error')} would break training. Fix them first "
                "(the Findings tab lists them; click one to go to it).",
                [("Show errors", self._show_errors)],
            )
        else:
            self._notify(f"Not saved: {message}")

    def _show_errors(self) -> None:
        self.tabs.setCurrentIndex(TAB_FINDINGS)
        self.findings_panel.filter_box.setCurrentIndex(1)

    # --- import and export ----------------------------------------------------------
    def import_dialog(self) -> None:
        dialog = ImportDialog(self, can_append=self.editor.is_open)
        if dialog.exec() and dialog.dataset is not None:
            self.take_import(dialog.dataset, append=dialog.append)

    def take_import(self, dataset: Dataset, append: bool) -> None:
        """Use an imported dataset: as the dataset being edited, or appended to it (undoable)."""
        if append and self.editor.is_open:
            self.editor.push(
                edits.add_examples(
                    self.editor.dataset, dataset.examples, label=f"Import {len(dataset):,} examples"
                )
            )
            self._say(f"Added {len(dataset):,} examples from {dataset.name}. Ctrl+Z removes them.")
        else:
            self._open(dataset, None)
            self._say(
                f"Imported {len(dataset):,} examples from {dataset.name}. Save a version to train on them."
            )
        self.tabs.setCurrentIndex(TAB_EXAMPLES)

    def export_dialog(self) -> None:
        if not self.editor.is_open:
            return

        dialog = ExportDialog(self, snapshot(self.editor.dataset))
        if dialog.exec() and dialog.written is not None:
            self._say(dialog.written)

    # --- other pages ----------------------------------------------------------------
    def receive(self, handoff) -> None:
        """Drafts from Evaluate, Chat or Runs (failing cases, answers worth keeping) to edit
        into better examples of a new version."""
        if not isinstance(handoff, DraftsForDataset):
            return
        base_id = handoff.base_version_id
        version = load_version(self.project, int(base_id)) if base_id is not None else None
        if version is not None and (
            self.editor.base_version is None
            or self.editor.base_version.id != version.id
            or not self.editor.is_saved
        ):
            self._open(version.load_dataset(), version)
        elif version is None and not self.editor.is_open:
            self._open(Dataset([], name=NEW_DATASET_NAME), None)
        drafts = edits.conversations_as_examples(handoff.drafts, tag=DRAFT_TAG)
        if drafts:
            self.editor.push(
                edits.add_examples(
                    self.editor.dataset,
                    drafts,
                    label=f"Add {count_text(len(drafts), 'draft example')}",
                )
            )
        self.autosaver.note = handoff.note
        self.tabs.setCurrentIndex(TAB_EXAMPLES)
        self.examples_panel.show_tag(DRAFT_TAG)
        self.model.finish_filtering()
        if drafts:
            first = len(self.editor.dataset) - len(drafts)
            self._current_id = drafts[0].id
            self.examples_panel.select(first)
        self._say(
            f"Added {count_text(len(drafts), 'draft example')} tagged “{DRAFT_TAG}”: edit them into good "
            "examples, then save a new version."
        )

    def has_unsaved_changes(self) -> bool:
        """Edits that are not a saved version (an empty new dataset has nothing to lose)."""
        editor = self.editor
        if not editor.is_open or editor.is_saved:
            return False
        return editor.base_version is not None or len(editor.dataset) > 0

    def ask_about_unsaved_work(self) -> bool:
        """Before the window closes: Save / Discard / Cancel for unsaved edits, as editors
        ask. True when closing may go on (saved, or thrown away on purpose)."""
        self.editor.wait_for_save()
        if not self.has_unsaved_changes():
            return True
        base = self.editor.base_version
        name = self.editor.dataset.name
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Save the dataset?",
            f"“{name}” has unsaved changes to {base.label}."
            if base is not None
            else f"“{name}” has not been saved as a version yet.",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setInformativeText(
            "Save keeps them as a new version that training can use. Discard throws them "
            "away (saved versions stay as they are). Cancel keeps the app open."
        )
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Discard:
            self.autosaver.discard()
            return True
        if answer != QMessageBox.StandardButton.Save or not self.save_dialog():
            return False
        self.editor.wait_for_save()
        return self.editor.is_saved  # a refused save says why on the page; stay open

    def can_close(self) -> bool:
        """Stop background work; edits not yet asked about stay in the draft (offered
        again next time), so closing without ask_about_unsaved_work is safe too."""
        self.autosaver.flush()
        self.editor.cancel_checks()
        wait_for_task(self._open_task)
        if self.bulk.task is not None:
            self.bulk.task.cancel()
            wait_for_task(self.bulk.task)
        self.editor.wait_for_save()
        self.stats_panel.stop()
        return True
