"""Which dataset the Dataset page edits: a saved version (big ones read in the background),
a new dataset, an import, a kept draft, or drafts handed over by Evaluate, Chat or Runs.

Opening another dataset never loses edits: the autosaver flushes them into their draft
first, and that draft is offered above the editor (draft_recovery.py) to restore later.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QProgressBar, QWidget

from core.dataset import edits
from core.dataset.drafts import DraftError, DraftInfo, list_drafts, load_draft
from core.dataset.model import Dataset
from core.dataset.versions import DatasetVersion, latest_version, load_version
from core.figures import count_text
from core.handoff import DraftsForDataset
from desktop.background import BackgroundTask
from desktop.dataset.autosave import DraftAutosaver
from desktop.dataset.draft_recovery import DraftRecovery
from desktop.dataset.editor import DatasetEditor, wait_for_task
from desktop.dataset.example_actions import ExampleActions
from desktop.dataset.import_dialog import ImportDialog

NEW_DATASET_NAME = "my-dataset"
DRAFT_TAG = "draft"
# Versions with more examples than this are read in the background (a progress bar shows).
BACKGROUND_OPEN_AT = 20_000


class VersionOpening(QObject):
    said = Signal(str)  # what was opened
    failed = Signal(str)  # why nothing was opened
    reading = Signal(str)  # "Opening … (N examples)…" while a big version is read
    finished = Signal()  # a background read ended (opened or not)
    examples_tab_wanted = Signal()

    def __init__(
        self,
        editor: DatasetEditor,
        autosaver: DraftAutosaver,
        drafts: DraftRecovery,
        actions: ExampleActions,
        progress: QProgressBar,
        window: QWidget,
    ) -> None:
        super().__init__(window)
        self.editor = editor
        self.autosaver = autosaver
        self.drafts = drafts
        self.actions = actions
        self.progress = progress
        self.window = window  # the parent of the Import dialog
        self.project = editor.project
        self.task: BackgroundTask | None = None
        drafts.restore_requested.connect(self.restore_draft)

    def open_project(self, project) -> None:
        """Show the project's newest dataset version, and offer to restore unsaved drafts."""
        self.project = project
        self.drafts.pending = list_drafts(project)
        latest = latest_version(project)
        if latest is not None:
            self._open_version(latest)
        else:
            self.editor.close_dataset()
        self.drafts.show_offer()

    def open(self, dataset: Dataset, version: DatasetVersion | None, **kwargs) -> None:
        """Edit another dataset; unsaved edits to this one stay in their draft, offered above."""
        self.autosaver.flush()
        set_aside = self.autosaver.path
        self.actions.current_id = None
        self.actions.panel.clear_filters()
        self.editor.open(dataset, version, **kwargs)
        if set_aside is not None and set_aside.exists():
            self.drafts.reload(self.project)

    def open_version(self, version: DatasetVersion) -> None:
        """Edit a saved version (unsaved edits stay in their draft, restorable later)."""
        self._open_version(version)
        self.examples_tab_wanted.emit()

    def _open_version(self, version: DatasetVersion) -> None:
        """Open a version: at once when small, else read in the background with progress."""
        if version.n_examples < BACKGROUND_OPEN_AT:
            self._opened(version.load_dataset(), version)
            return
        if self.task is not None:
            return
        self.autosaver.flush()
        self.reading.emit(
            f"Opening {version.dataset} {version.label} ({version.n_examples:,} examples)…"
        )
        self.progress.setRange(0, 0)
        self.progress.show()
        task = BackgroundTask(lambda report, cancelled: version.load_dataset(), self)
        task.succeeded.connect(lambda dataset: self._opened(dataset, version))
        task.failed.connect(
            lambda message: self.failed.emit(f"Could not open {version.label}: {message}")
        )
        task.finished.connect(self._read_finished)
        self.task = task
        task.start()

    def _opened(self, dataset: Dataset, version: DatasetVersion) -> None:
        self.open(dataset, version)
        self.said.emit(f"Opened {version.dataset} {version.label}.")

    def _read_finished(self) -> None:
        self.task = None
        self.progress.hide()
        self.progress.setRange(0, 100)
        self.finished.emit()

    def wait_for_open(self, timeout_ms: int = 60_000) -> None:
        wait_for_task(self.task, timeout_ms)

    def new_dataset(self) -> None:
        self.open(Dataset([edits.new_example()], name=NEW_DATASET_NAME), None)
        self.examples_tab_wanted.emit()
        self.actions.focus_first_empty_message()

    # --- drafts ---------------------------------------------------------------------
    def restore_draft(self, draft: DraftInfo | None = None) -> bool:
        """Open a kept draft (the newest by default) as unsaved edits to its base version."""
        draft = draft or (self.drafts.pending[0] if self.drafts.pending else None)
        if draft is None:
            return False
        try:
            dataset, base, base_by_id = load_draft(self.project, draft)
        except (DraftError, OSError) as error:
            self.failed.emit(f"The draft could not be restored: {error}")
            return False
        self.open(dataset, base, base_by_id=base_by_id, modified=True)
        self.autosaver.note = draft.note
        # The restored edits now live in this session's draft; the old file can go.
        self.autosaver.flush()
        self.drafts.restored(draft)
        self.examples_tab_wanted.emit()
        saved_at = draft.saved_at[:16].replace("T", " ")
        self.said.emit(f"Restored {len(dataset):,} examples from the draft of {saved_at}.")
        return True

    # --- import ---------------------------------------------------------------------
    def import_dialog(self) -> None:
        dialog = ImportDialog(self.window, can_append=self.editor.is_open)
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
            self.said.emit(
                f"Added {len(dataset):,} examples from {dataset.name}. Ctrl+Z removes them."
            )
        else:
            self.open(dataset, None)
            self.said.emit(
                f"Imported {len(dataset):,} examples from {dataset.name}. Save a version to train on them."
            )
        self.examples_tab_wanted.emit()

    # --- drafts from other pages ----------------------------------------------------
    def receive(self, handoff) -> None:
        """Drafts from Evaluate, Chat or Runs (failing cases, answers worth keeping) to edit
        into better examples of a new version."""
        if not isinstance(handoff, DraftsForDataset):
            return
        editor = self.editor
        base_id = handoff.base_version_id
        version = load_version(self.project, int(base_id)) if base_id is not None else None
        if version is not None and (
            editor.base_version is None
            or editor.base_version.id != version.id
            or not editor.is_saved
        ):
            self.open(version.load_dataset(), version)
        elif version is None and not editor.is_open:
            self.open(Dataset([], name=NEW_DATASET_NAME), None)
        drafts = edits.conversations_as_examples(handoff.drafts, tag=DRAFT_TAG)
        if drafts:
            label = f"Add {count_text(len(drafts), 'draft example')}"
            editor.push(edits.add_examples(editor.dataset, drafts, label=label))
        self.autosaver.note = handoff.note
        self.examples_tab_wanted.emit()
        self.actions.panel.show_tag(DRAFT_TAG)
        self.actions.model.finish_filtering()
        if drafts:
            self.actions.select(len(editor.dataset) - len(drafts), drafts[0].id)
        self.said.emit(
            f"Added {count_text(len(drafts), 'draft example')} tagged “{DRAFT_TAG}”: edit them "
            "into good examples, then save a new version."
        )
