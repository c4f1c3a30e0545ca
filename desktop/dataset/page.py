"""The Dataset page: read, write, check and version the chat examples, without writing code.

A thin composition: it builds the parts and wires their signals to each other and to the
project's events. The parts do the work, each on the editor's one undo stack:
  header.py           the name, state line, undo/redo and the Import/Export/Bulk/Save buttons
  example_actions.py  add, duplicate, delete, move, review, jump to and fix a finding
  version_opening.py  open a version (big ones in the background), a new dataset, an import,
                      a kept draft, drafts handed over by other pages
  version_saving.py   save as a version, the quit-with-unsaved-work question, export
  bulk_actions.py     find and replace, one system prompt, delete duplicates
and the panels (examples, conversation, findings, statistics, versions, preference pairs).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QProgressBar,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.dataset.edit_status import findings_tab_title
from core.handoff import RatingsForPreferences
from desktop.context import AppContext
from desktop.dataset.autosave import DraftAutosaver
from desktop.dataset.bulk_actions import BulkActions
from desktop.dataset.conversation_view import ConversationView
from desktop.dataset.draft_recovery import DraftRecovery
from desktop.dataset.editor import DatasetEditor, wait_for_task
from desktop.dataset.empty_state import EmptyState
from desktop.dataset.example_actions import ExampleActions
from desktop.dataset.examples_model import ExamplesTableModel
from desktop.dataset.examples_panel import ExamplesPanel
from desktop.dataset.findings_panel import FindingsPanel
from desktop.dataset.header import DatasetHeader
from desktop.dataset.notice_bar import NoticeBar
from desktop.dataset.preference_panel import PreferencePanel
from desktop.dataset.stats_panel import StatsPanel
from desktop.dataset.version_opening import VersionOpening
from desktop.dataset.version_saving import VersionSaving
from desktop.dataset.versions_panel import VersionsPanel
from desktop.theme import BAD

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
        self.last_message = ""  # the newest thing said on the status bar or notice bar
        # Drafts kept from an earlier session, offered above the editor (draft_recovery.py).
        self.drafts = DraftRecovery(self.autosaver, self)
        self._build()
        self.examples = ExampleActions(
            self.editor, self.model, self.examples_panel, self.conversation, self
        )
        self.opening = VersionOpening(
            self.editor, self.autosaver, self.drafts, self.examples, self.progress, self
        )
        self.saving = VersionSaving(self.editor, self.autosaver, self.progress, self)
        self.bulk = BulkActions(self.editor, self)
        self._connect()
        context.project_changed.connect(self.set_project)
        # A version saved elsewhere (the CLI, another page) joins the Versions tab at once.
        context.events.version_saved.connect(lambda _id: self.versions_panel.refresh())
        self.set_project(self.project)

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 12)
        layout.setSpacing(8)
        self.header = DatasetHeader(self.editor)
        layout.addWidget(self.header)
        layout.addWidget(self.drafts.bar)
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
        undo = self.editor.stack
        self.conversation = ConversationView(self.editor.push, undo.undo, undo.redo)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.examples_panel)
        splitter.addWidget(self.conversation)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([540, 520])
        splitter.setChildrenCollapsible(False)
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
        editor, header, examples = self.editor, self.header, self.examples
        opening, saving, bulk = self.opening, self.saving, self.bulk
        editor.reset.connect(self._on_reset)
        editor.version_saved.connect(lambda _version: self.notice_bar.hide())
        editor.version_saved.connect(lambda _version: self.versions_panel.refresh())
        for signal in (editor.edited, editor.stack.cleanChanged, editor.version_saved):
            signal.connect(self._update_state)
        self.autosaver.failed.connect(self._notify)
        for part in (examples, opening, saving, bulk):
            part.said.connect(self._say)
        for part in (opening, saving, bulk):
            part.failed.connect(self._notify)
        for part in (examples, opening):
            part.examples_tab_wanted.connect(lambda: self.tabs.setCurrentIndex(TAB_EXAMPLES))
        examples.new_dataset_wanted.connect(opening.new_dataset)
        examples.findings_shown.connect(self._show_findings_count)
        opening.reading.connect(header.state_label.setText)
        opening.finished.connect(self._update_state)
        saving.state_changed.connect(self._update_state)
        saving.errors_wanted.connect(self._show_errors)
        bulk.progress.connect(self.progress.setValue)
        bulk.busy.connect(self._bulk_busy)

        self.findings_panel.jump_requested.connect(examples.jump_to)
        self.findings_panel.fix_all_requested.connect(examples.fix_all)
        self.versions_panel.open_requested.connect(opening.open_version)
        self.stats_panel.length_settings_changed.connect(editor.check_lengths)
        self.empty_state.import_requested.connect(opening.import_dialog)
        self.empty_state.new_requested.connect(opening.new_dataset)
        self.empty_state.preferences_requested.connect(self.show_preferences)
        header.import_button.clicked.connect(opening.import_dialog)
        header.export_button.clicked.connect(saving.export_dialog)
        header.save_button.clicked.connect(saving.save_dialog)
        menu = header.bulk_menu
        search = self.examples_panel.search
        menu.addAction(
            "Find and replace in assistant replies…",
            lambda: bulk.find_replace_dialog(self, search.text()),
        )
        menu.addAction("Set one system prompt for all…", lambda: bulk.system_prompt_dialog(self))
        menu.addAction("Delete exact duplicates", bulk.delete_duplicates)
        menu.addSeparator()
        menu.addAction("Mark all shown as reviewed", lambda: examples.mark_shown_reviewed(True))
        menu.addAction("Fix all certain problems", examples.fix_all)
        self.tabs.currentChanged.connect(self._tab_changed)
        self._chat_shortcuts = []  # off on the Preference pairs tab, as the header's buttons
        for keys, slot in (
            (QKeySequence.StandardKey.Undo, editor.stack.undo),
            ("Ctrl+Shift+Z", editor.stack.redo),
            ("Ctrl+Y", editor.stack.redo),
            (QKeySequence.StandardKey.Save, saving.save_dialog),
            (QKeySequence.StandardKey.Find, self.focus_search),
        ):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
            if slot != self.focus_search:
                self._chat_shortcuts.append(shortcut)
        # On the Preference pairs tab the header speaks for the pairs (header.py).
        header.follow_pairs(self.preferences_panel)
        for signal in (self.tabs.currentChanged, self.stack.currentChanged):
            signal.connect(self._pairs_shown_changed)

    # --- the project ----------------------------------------------------------------
    def set_project(self, project) -> None:
        """Show the project's newest dataset version, and offer to restore unsaved drafts."""
        self.autosaver.set_project(project)
        self.project = project
        self.editor.project = project
        self.versions_panel.set_project(project)
        self.preferences_panel.set_project(project)
        self.opening.open_project(project)
        self._update_state()

    def receive(self, handoff) -> None:
        """Drafts from Evaluate, Chat or Runs, to edit into examples of a new version; rated
        A/B pairs from Evaluate, to the Preference pairs tab."""
        if isinstance(handoff, RatingsForPreferences):
            self.show_preferences()
            self.preferences_panel.receive(handoff)
            return
        self.opening.receive(handoff)

    # --- showing --------------------------------------------------------------------
    def _on_reset(self) -> None:
        self.stack.setCurrentIndex(1 if self.editor.is_open else 0)
        self.examples.after_reset()
        self._update_state()

    def _update_state(self, *_args) -> None:
        base = self.editor.base_version
        base_id = base.id if base is not None else None
        if base_id != self.versions_panel.open_version_id:
            self.versions_panel.set_open_version(base_id)
        self.header.show_state()

    def _show_findings_count(self) -> None:
        self.tabs.setTabText(TAB_FINDINGS, findings_tab_title(self.editor.counts()))

    def _show_errors(self) -> None:
        self.tabs.setCurrentIndex(TAB_FINDINGS)
        self.findings_panel.filter_box.setCurrentIndex(1)

    def show_preferences(self) -> None:
        """The Preference pairs tab, also with no chat dataset open."""
        self.stack.setCurrentWidget(self.tabs)
        self.tabs.setCurrentWidget(self.preferences_panel)

    def focus_search(self) -> None:
        self.tabs.setCurrentIndex(TAB_EXAMPLES)
        self.examples_panel.search.setFocus()
        self.examples_panel.search.selectAll()

    def _tab_changed(self, index: int) -> None:
        if index == TAB_STATS:
            self.stats_panel.refresh_if_stale()
        elif index == TAB_VERSIONS:
            self.versions_panel.refresh()

    def _pairs_shown_changed(self, *_args) -> None:
        shown = (
            self.stack.currentWidget() is self.tabs
            and self.tabs.currentWidget() is self.preferences_panel
        )
        self.header.show_pairs(shown)
        for shortcut in self._chat_shortcuts:
            shortcut.setEnabled(not shown)

    def _bulk_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.setEnabled(not busy)  # the bulk edit is built from this exact state

    def _say(self, text: str) -> None:
        self.last_message = text
        self.context.show_status(text, 8000)

    def _notify(self, text: str, actions: list | None = None) -> None:
        """A problem the user must see (not a modal dialog: the page stays usable)."""
        self.last_message = text
        self.notice_bar.show_notice(text, (actions or []) + [("Close", self.notice_bar.hide)])

    # --- closing --------------------------------------------------------------------
    def ask_about_unsaved_work(self) -> bool:
        """Save / Discard / Cancel before the window closes (version_saving.py)."""
        return self.saving.ask_about_unsaved_work()

    def can_close(self) -> bool:
        """Stop background work; edits not yet asked about stay in the draft (offered
        again next time), so closing without ask_about_unsaved_work is safe too."""
        self.autosaver.flush()
        self.editor.cancel_checks()
        wait_for_task(self.opening.task)
        if self.bulk.task is not None:
            self.bulk.task.cancel()
            wait_for_task(self.bulk.task)
        self.editor.wait_for_save()
        self.stats_panel.stop()
        self.preferences_panel.wait_for_lengths()
        return True
