"""The dataset being edited: the core Dataset, its undo stack, and its findings.

Every change goes through `push(edit)` (a core edit from core.dataset.edits), so every
change can be undone. Views listen to the signals and never change the dataset
themselves. Findings are kept per example object (examples are immutable, so an edited
example is a new object and starts with fresh findings).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from PySide6.QtCore import QCoreApplication, QDeadlineTimer, QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from core.dataset.edits import (
    EditBatch,
    InsertExamples,
    MoveExample,
    RemoveExamples,
    ReplaceExamples,
)
from core.dataset.findings import SEVERITY_RANK, Finding
from core.dataset.model import Dataset, Example
from core.dataset.validation import ValidationOptions, check_example, validate_snapshot
from core.dataset.versions import DatasetHasErrors, DatasetVersion, save_version
from desktop.background import BackgroundTask
from desktop.dataset.undo_commands import EditCommand

# Above this many examples, whole-dataset checks run only when asked ("Check again").
AUTO_VALIDATE_LIMIT = 20_000
VALIDATE_DELAY_MS = 1500
# Findings made while reading a line that stop applying once that line is repaired.
READING_ERROR_CODES = frozenset(
    {"invalid_json", "bad_encoding", "not_an_object", "not_convertible"}
)


def wait_for_task(task: BackgroundTask | None, timeout_ms: int = 30_000) -> bool:
    """Wait for a background task while still handling events.

    BackgroundTask's thread is told to quit through a queued call to this (GUI) thread,
    so a plain blocking `wait()` here would sit out its whole timeout.
    """
    if task is None:
        return True
    deadline = QDeadlineTimer(timeout_ms)
    while task.is_running() and not deadline.hasExpired():
        QCoreApplication.processEvents()
        task.wait(20)
    QCoreApplication.processEvents()  # deliver `finished`
    return not task.is_running()


def snapshot(dataset: Dataset) -> Dataset:
    """A copy of the example list (examples themselves are immutable) for a background task."""
    return Dataset(
        list(dataset.examples),
        name=dataset.name,
        source_path=dataset.source_path,
        source_format=dataset.source_format,
        load_findings=list(dataset.load_findings),
    )


class DatasetEditor(QObject):
    reset = Signal()
    replaced = Signal(list)  # dataset indices whose example was replaced
    inserted = Signal(list)  # indices of the new examples (after inserting), ascending
    removed = Signal(list)  # indices the removed examples had, ascending
    moved = Signal(int, int)  # source, target
    edited = Signal()  # after any change (also undo and redo)
    findings_changed = Signal()
    checking = Signal(bool)  # whole-dataset validation running or not
    version_saved = Signal(object)  # DatasetVersion
    save_failed = Signal(str, list)  # message, error findings (may be empty)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.dataset: Dataset | None = None
        self.base_version: DatasetVersion | None = None
        self.base_by_id: dict[str, Example] = {}
        self.stack = QUndoStack(self)
        self.revision = 0  # bumps on every change; the autosave compares it
        self.validation_options = None
        self.project = None  # for the checks that read what the wizard recorded
        self._findings: dict[int, tuple[Example, list[Finding]]] = {}
        self.dataset_findings: list[Finding] = []
        self._positions: tuple[int, dict[int, int]] | None = None
        self._repaired_lines: set[int] = set()
        self._check_task: BackgroundTask | None = None
        self._check_again = False
        self._save_task: BackgroundTask | None = None
        self._check_timer = QTimer(self, singleShot=True, interval=VALIDATE_DELAY_MS)
        self._check_timer.timeout.connect(self.check_now)

    # --- opening --------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.dataset is not None

    @property
    def is_saved(self) -> bool:
        """True when the examples are exactly a saved version (nothing to autosave)."""
        return self.base_version is not None and self.stack.isClean()

    def open(
        self,
        dataset: Dataset,
        base_version: DatasetVersion | None = None,
        base_by_id: dict[str, Example] | None = None,
        modified: bool = False,
    ) -> None:
        """Edit `dataset`, a copy of `base_version` unless `modified` (a restored draft).

        `base_by_id` maps ids to the base version's example objects (a draft refers to
        unchanged ones); by default it is the dataset's own examples.
        """
        self._check_timer.stop()
        self.stack.clear()
        self.dataset = dataset
        self.base_version = base_version
        if base_by_id is None:
            base_by_id = {e.id: e for e in dataset.examples} if base_version else {}
        self.base_by_id = base_by_id
        self._findings = {}
        self.dataset_findings = []
        self._positions = None
        self._repaired_lines = set()
        self.revision += 1
        if modified or base_version is None:
            self.stack.resetClean()
        self.reset.emit()
        self.findings_changed.emit()
        self.edited.emit()
        self.check_now()

    def close_dataset(self) -> None:
        self.cancel_checks()
        self.stack.clear()
        self.dataset = None
        self.base_version = None
        self.base_by_id = {}
        self._findings = {}
        self.dataset_findings = []
        self.revision += 1
        self.reset.emit()
        self.findings_changed.emit()

    # --- editing --------------------------------------------------------------------
    def push(self, edit) -> bool:
        """Apply a core edit as one undoable step; False when there was nothing to do."""
        if edit is None or self.dataset is None or _is_empty(edit):
            return False
        self.stack.push(EditCommand(self._apply, edit))
        return True

    @contextlib.contextmanager
    def macro(self, label: str) -> Iterator[None]:
        """Group several pushes into one undo step (a bulk action)."""
        self.stack.beginMacro(label)
        try:
            yield
        finally:
            self.stack.endMacro()

    def _apply(self, edit):
        inverse = self._apply_one(edit)
        self.revision += 1
        self._positions = None
        self.edited.emit()
        if self.dataset is not None and len(self.dataset) <= AUTO_VALIDATE_LIMIT:
            self._check_timer.start()
        return inverse

    def _apply_one(self, edit):
        if isinstance(edit, EditBatch):
            inverses = [self._apply_one(part) for part in edit.edits]
            return EditBatch(tuple(reversed(inverses)), edit.label)
        inverse = edit.apply(self.dataset)
        if isinstance(edit, ReplaceExamples):
            self._track_repairs(inverse.changes, edit.changes)
            indices = edit.indices
            self._refresh_structure(indices)
            self.replaced.emit(indices)
        elif isinstance(edit, InsertExamples):
            indices = edit.indices
            self._refresh_structure(indices)
            self.inserted.emit(indices)
        elif isinstance(edit, RemoveExamples):
            self.removed.emit(edit.indices)
        elif isinstance(edit, MoveExample):
            self.moved.emit(edit.source, edit.target)
        self.findings_changed.emit()
        return inverse

    def _track_repairs(self, old: tuple, new: tuple) -> None:
        """A repaired unreadable line takes its reading error with it (and undo brings it back)."""
        for (_i, before), (_j, after) in zip(old, new):
            if before.is_broken and not after.is_broken and before.line is not None:
                self._repaired_lines.add(before.line)
            elif after.is_broken and not before.is_broken and after.line is not None:
                self._repaired_lines.discard(after.line)

    def _snapshot_for_checks(self) -> Dataset:
        snap = snapshot(self.dataset)
        if self._repaired_lines:
            snap.load_findings = [
                f
                for f in snap.load_findings
                if not (f.line in self._repaired_lines and f.code in READING_ERROR_CODES)
            ]
        return snap

    # --- findings -------------------------------------------------------------------
    def _refresh_structure(self, indices: list[int]) -> None:
        """New example objects get their structural findings at once (whole checks follow)."""
        for index in indices:
            example = self.dataset.examples[index]
            if id(example) not in self._findings:
                self._findings[id(example)] = (example, check_example(self.dataset, index))

    def findings_for(self, example: Example) -> list[Finding]:
        entry = self._findings.get(id(example))
        return entry[1] if entry is not None and entry[0] is example else []

    def worst_severity(self, example: Example) -> str | None:
        findings = self.findings_for(example)
        if not findings:
            return None
        return max(findings, key=lambda f: SEVERITY_RANK[f.severity]).severity

    def position_of(self, example: Example) -> int | None:
        """The example's index in the dataset now (findings' own indexes may be stale)."""
        if self.dataset is None:
            return None
        if self._positions is None or self._positions[0] != self.revision:
            self._positions = (
                self.revision,
                {id(e): i for i, e in enumerate(self.dataset.examples)},
            )
        return self._positions[1].get(id(example))

    def all_findings(self) -> list[tuple[Finding, Example | None]]:
        """Every finding with the example it is about (None for whole-dataset ones)."""
        out: list[tuple[Finding, Example | None]] = [(f, None) for f in self.dataset_findings]
        if self.dataset is None:
            return out
        for example in self.dataset.examples:
            entry = self._findings.get(id(example))
            if entry is not None and entry[0] is example:
                out.extend((finding, example) for finding in entry[1])
        return out

    def counts(self) -> dict[str, int]:
        counts = {"error": 0, "warning": 0, "info": 0}
        for finding, _example in self.all_findings():
            counts[finding.severity] += 1
        return counts

    def check_lengths(self, tokenizer, max_seq_length: int) -> None:
        """With a tokenizer chosen, the checks also say which examples max_seq_length cuts."""
        self.validation_options = ValidationOptions(
            max_seq_length=max_seq_length, tokenizer=tokenizer
        )
        self.check_later()

    def check_later(self) -> None:
        """Run the whole-dataset checks after a short pause (settings being adjusted)."""
        if self.dataset is not None:
            self._check_timer.start()

    def check_now(self) -> None:
        """Run the whole-dataset validation in the background (again, if one is running)."""
        self._check_timer.stop()
        if self.dataset is None:
            return
        if self._check_task is not None:
            self._check_again = True
            return
        snap = self._snapshot_for_checks()
        options, project = self.validation_options, self.project
        task = BackgroundTask(
            lambda report, cancelled: validate_snapshot(snap, options, project, report, cancelled),
            self,
        )
        task.succeeded.connect(lambda findings: self._take_findings(snap, findings))
        task.failed.connect(self._on_check_failed)
        task.finished.connect(self._on_check_finished)
        self._check_task = task
        self.checking.emit(True)
        task.start()

    def _take_findings(self, snap: Dataset, findings: list[Finding] | None) -> None:
        if self.dataset is None or findings is None:  # closed, or cancelled
            return
        in_snapshot = {id(example) for example in snap.examples}
        by_object: dict[int, tuple[Example, list[Finding]]] = {}
        whole: list[Finding] = []
        broken_lines = {e.line: e for e in snap.examples if e.is_broken and e.line is not None}
        for finding in findings:
            example = None
            if finding.example is not None and 0 <= finding.example < len(snap.examples):
                example = snap.examples[finding.example]
            elif finding.line is not None and finding.line in broken_lines:
                example = broken_lines[finding.line]  # a bad line found while reading
            if example is None:
                whole.append(finding)
            else:
                by_object.setdefault(id(example), (example, []))[1].append(finding)
        for example in snap.examples:
            by_object.setdefault(id(example), (example, []))
        # Examples edited since the snapshot keep their quick findings until the next run.
        for key, entry in self._findings.items():
            if key not in in_snapshot:
                by_object[key] = entry
        self._findings = by_object
        self.dataset_findings = whole
        self.findings_changed.emit()

    def _on_check_failed(self, message: str) -> None:
        self.dataset_findings = [
            Finding(
                "warning",
                "validation_failed",
                f"The checks stopped: {message}",
                fix="Press “Check again”; if it keeps failing, report it.",
            )
        ]
        self.findings_changed.emit()

    def _on_check_finished(self) -> None:
        self._check_task = None
        if self._check_again:
            self._check_again = False
            self.check_now()
        else:
            self.checking.emit(False)

    @property
    def is_checking(self) -> bool:
        return self._check_task is not None

    def wait_for_checks(self, timeout_ms: int = 30_000) -> bool:
        """Process events until the background checks are done (for tests and closing)."""
        deadline = QDeadlineTimer(timeout_ms)
        while (
            self._check_task is not None or self._check_timer.isActive()
        ) and not deadline.hasExpired():
            if self._check_timer.isActive() and self._check_task is None:
                self.check_now()
            QCoreApplication.processEvents()
            if self._check_task is not None:
                self._check_task.wait(20)
        return self._check_task is None

    def cancel_checks(self) -> None:
        self._check_timer.stop()
        self._check_again = False
        if self._check_task is not None:
            self._check_task.cancel()
            wait_for_task(self._check_task)

    # --- saving ---------------------------------------------------------------------
    @property
    def is_saving(self) -> bool:
        return self._save_task is not None

    def save_as_version(self, project, note: str, split=None) -> BackgroundTask | None:
        """Save the examples as the project's next version, in the background."""
        if self.dataset is None or self._save_task is not None:
            return None
        snap = snapshot(self.dataset)
        task = BackgroundTask(
            lambda report, cancelled: _save(project, snap, note, split, report, cancelled), self
        )
        task.succeeded.connect(lambda version: self._on_saved(version, snap))
        task.failed.connect(lambda message: self.save_failed.emit(message, []))
        task.finished.connect(self._on_save_finished)
        self._save_task = task
        task.start()
        return task

    def _on_saved(self, result, snap: Dataset) -> None:
        if isinstance(result, Exception):  # DatasetHasErrors, returned to keep its findings
            self.save_failed.emit(str(result), list(getattr(result, "findings", [])))
            return
        self.base_version = result
        self.base_by_id = {example.id: example for example in snap.examples}
        self.stack.setClean()
        self.revision += 1
        self.version_saved.emit(result)
        self.edited.emit()

    def _on_save_finished(self) -> None:
        self._save_task = None

    def wait_for_save(self, timeout_ms: int = 60_000) -> None:
        wait_for_task(self._save_task, timeout_ms)


def _save(project, dataset, note, split, report, cancelled):
    try:
        return save_version(
            project, dataset, note=note, split=split, progress=report, cancelled=cancelled
        )
    except DatasetHasErrors as error:
        return error


def _is_empty(edit) -> bool:
    if isinstance(edit, ReplaceExamples):
        return not edit.changes
    if isinstance(edit, InsertExamples):
        return not edit.items
    if isinstance(edit, RemoveExamples):
        return not edit.indices_to_remove
    if isinstance(edit, EditBatch):
        return all(_is_empty(part) for part in edit.edits)
    if isinstance(edit, MoveExample):
        return edit.source == edit.target
    return False
