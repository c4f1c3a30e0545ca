"""The list of examples as a Qt table model over the core dataset (never a QTableWidget).

Rows are the examples that pass the filter, kept as a sorted list of dataset indexes
(None means every example, the common case, with no list at all). Every `data()` call
is O(1) and never parses JSON, so scrolling through 100,000 rows stays smooth.
An example edited while a filter is on stays in the list until the filter changes, so a
row never vanishes under the user's cursor.
"""

from __future__ import annotations

import bisect

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor

from core.dataset.edits import set_rating, set_reviewed, set_tags
from core.dataset.example_filter import ExampleFilter, FilterRun
from desktop.dataset.editor import DatasetEditor
from desktop.theme import severity_color

FINDINGS_ROLE = Qt.ItemDataRole.UserRole + 1  # list[Finding] of the row's example
EXAMPLE_INDEX_ROLE = Qt.ItemDataRole.UserRole + 2  # the row's index in the dataset
WORST_SEVERITY_ROLE = Qt.ItemDataRole.UserRole + 3  # "error", "warning", "info" or None

_ROOT = QModelIndex()  # the invisible root: these are flat tables
COL_NUMBER, COL_FINDINGS, COL_CONVERSATION, COL_TAGS, COL_REVIEWED, COL_RATING = range(6)
HEADERS = ("#", "Check", "Conversation", "Tags", "✓", "Rating")
HEADER_TIPS = (
    "Position in the dataset",
    "Problems found in this example (red: blocks training; orange: a known pitfall)",
    "What the user asks, then the start of the reply",
    "Tags: group examples by kind of request (double-click to edit, comma-separated)",
    "Checked once an expert has reviewed the example",
    "The reviewer's rating, 1 to 5 stars (double-click to edit)",
)
BADGE_TEXT = {"error": "●", "warning": "▲", "info": "•"}  # the count follows; tooltip says what
FILTER_STEP_S = 0.03
PROGRESSIVE_ROWS = 200  # matches shown while a long filter still runs
_ANSWERED_ROLES = frozenset(
    {
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.EditRole,
        Qt.ItemDataRole.CheckStateRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.TextAlignmentRole,
        FINDINGS_ROLE,
        EXAMPLE_INDEX_ROLE,
        WORST_SEVERITY_ROLE,
    }
)
_SELECTABLE = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_COLUMN_FLAGS = (
    _SELECTABLE,
    _SELECTABLE,
    _SELECTABLE,
    _SELECTABLE | Qt.ItemFlag.ItemIsEditable,  # tags
    _SELECTABLE | Qt.ItemFlag.ItemIsUserCheckable,  # reviewed
    _SELECTABLE | Qt.ItemFlag.ItemIsEditable,  # rating
)
_RIGHT_ALIGNED = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class ExamplesTableModel(QAbstractTableModel):
    filtering = Signal(float)  # fraction done, while a filter runs
    filter_applied = Signal()

    def __init__(self, editor: DatasetEditor, parent=None) -> None:
        super().__init__(parent)
        self.editor = editor
        self.visible: list[int] | None = None
        self.spec = ExampleFilter()
        self._run: FilterRun | None = None
        self._timer = QTimer(self, interval=0)
        self._timer.timeout.connect(self._filter_step)
        editor.reset.connect(self._on_reset)
        editor.replaced.connect(self._on_replaced)
        editor.inserted.connect(self._on_inserted)
        editor.removed.connect(self._on_removed)
        editor.moved.connect(self._on_moved)
        editor.findings_changed.connect(self._on_findings_changed)

    # --- shape ----------------------------------------------------------------------
    @property
    def examples(self):
        return self.editor.dataset.examples if self.editor.dataset is not None else []

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        if parent.isValid():
            return 0
        return len(self.examples) if self.visible is None else len(self.visible)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def dataset_index(self, row: int) -> int:
        return row if self.visible is None else self.visible[row]

    def row_of(self, dataset_index: int) -> int | None:
        """The row showing that example, or None when the filter hides it."""
        if self.visible is None:
            return dataset_index if 0 <= dataset_index < len(self.examples) else None
        position = bisect.bisect_left(self.visible, dataset_index)
        if position < len(self.visible) and self.visible[position] == dataset_index:
            return position
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS[section]
        return None

    # --- cells ----------------------------------------------------------------------
    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        # The view asks ~10 roles per cell while painting; leave the others at once.
        if role not in _ANSWERED_ROLES or not index.isValid():
            return None
        row = index.row()
        position = row if self.visible is None else self.visible[row]
        example = self.editor.dataset.examples[position]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == COL_NUMBER:
                return position + 1
            if column == COL_FINDINGS:
                worst = self.editor.worst_severity(example)
                if worst is None:
                    return ""
                count = len(self.editor.findings_for(example))
                return f"{BADGE_TEXT[worst]} {count}"
            if column == COL_CONVERSATION:
                if example.is_broken:
                    return f"⚠ unreadable line {example.line or ''}: {example.raw_text[:120]}"
                user = example.first_user_text or "(no user message)"
                reply = example.first_assistant_text
                return f"{user}  →  {reply}" if reply else user
            if column == COL_TAGS:
                return ", ".join(example.tags)
            if column == COL_RATING:
                return "★" * example.rating if example.rating else ""
            return None
        if role == Qt.ItemDataRole.EditRole:
            if column == COL_TAGS:
                return ", ".join(example.tags)
            if column == COL_RATING:
                return example.rating or 0
            return self.data(index, Qt.ItemDataRole.DisplayRole)
        if role == Qt.ItemDataRole.CheckStateRole and column == COL_REVIEWED:
            return Qt.CheckState.Checked if example.reviewed else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ForegroundRole and column == COL_FINDINGS:
            worst = self.editor.worst_severity(example)
            return QBrush(QColor(severity_color(worst))) if worst else None
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == COL_FINDINGS:
                findings = self.editor.findings_for(example)
                return (
                    "\n".join(f"{f.severity}: {f.message}" for f in findings[:8])
                    or "No problems found"
                )
            if column == COL_CONVERSATION:
                return example.first_user_text
            return HEADER_TIPS[column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (COL_NUMBER, COL_RATING):
            return _RIGHT_ALIGNED
        if role == FINDINGS_ROLE:
            return self.editor.findings_for(example)
        if role == WORST_SEVERITY_ROLE:
            return self.editor.worst_severity(example)
        if role == EXAMPLE_INDEX_ROLE:
            return position
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _COLUMN_FLAGS[index.column()]

    def setData(
        self, index: QModelIndex | QPersistentModelIndex, value, role=Qt.ItemDataRole.EditRole
    ) -> bool:
        """Edits made in the list go through the undo stack like every other edit."""
        if not index.isValid() or self.editor.dataset is None:
            return False
        position = self.dataset_index(index.row())
        dataset = self.editor.dataset
        column = index.column()
        if column == COL_REVIEWED and role == Qt.ItemDataRole.CheckStateRole:
            checked = Qt.CheckState(value) == Qt.CheckState.Checked
            return self.editor.push(set_reviewed(dataset, [position], checked))
        if role != Qt.ItemDataRole.EditRole:
            return False
        if column == COL_TAGS:
            return self.editor.push(set_tags(dataset, position, str(value).split(",")))
        if column == COL_RATING:
            try:
                rating = int(value)
            except (TypeError, ValueError):
                return False
            rating = None if rating <= 0 else min(rating, 5)
            if rating == dataset.examples[position].rating:
                return False
            return self.editor.push(set_rating(dataset, position, rating))
        return False

    # --- following the editor -------------------------------------------------------
    def _on_reset(self) -> None:
        self._timer.stop()
        self._run = None
        self.beginResetModel()
        self.visible = None
        self.endResetModel()
        if not self.spec.is_empty:
            self.set_filter(self.spec)

    def _on_replaced(self, indices: list[int]) -> None:
        rows = [row for row in (self.row_of(i) for i in indices) if row is not None]
        if not rows:
            return
        last = self.columnCount() - 1
        if len(rows) > 64:
            self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), last))
        else:
            for row in rows:
                self.dataChanged.emit(self.index(row, 0), self.index(row, last))

    def _on_inserted(self, indices: list[int]) -> None:
        restart = self._cancel_run()
        if self.visible is None and _contiguous(indices):
            self.beginInsertRows(QModelIndex(), indices[0], indices[-1])
            self.endInsertRows()
        else:
            self.beginResetModel()
            if self.visible is not None:
                # The shown examples move past the insertions; new examples are shown.
                shifted = _shift_after_inserts(self.visible, indices)
                self.visible = sorted(set(shifted) | set(indices))
            self.endResetModel()
        if restart:
            self.set_filter(self.spec)

    def _on_removed(self, indices: list[int]) -> None:
        restart = self._cancel_run()
        if self.visible is None and _contiguous(indices):
            self.beginRemoveRows(QModelIndex(), indices[0], indices[-1])
            self.endRemoveRows()
        else:
            self.beginResetModel()
            if self.visible is not None:
                gone = set(indices)
                self.visible = [
                    old - bisect.bisect_left(indices, old)
                    for old in self.visible
                    if old not in gone
                ]
            self.endResetModel()
        if restart:
            self.set_filter(self.spec)

    def _on_moved(self, source: int, target: int) -> None:
        restart = self._cancel_run()
        if self.visible is None:
            destination = target + 1 if target > source else target
            if self.beginMoveRows(QModelIndex(), source, source, QModelIndex(), destination):
                self.endMoveRows()
        else:
            self.beginResetModel()
            moved_shown = source in self.visible
            rest = [i for i in self.visible if i != source]
            low, high = min(source, target), max(source, target)
            shift = -1 if target > source else 1
            rest = [i + shift if low <= i <= high else i for i in rest]
            if moved_shown:
                rest.append(target)
            self.visible = sorted(rest)
            self.endResetModel()
        if restart:
            self.set_filter(self.spec)

    def _on_findings_changed(self) -> None:
        if self.rowCount():
            self.dataChanged.emit(
                self.index(0, COL_FINDINGS),
                self.index(self.rowCount() - 1, COL_FINDINGS),
                [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole, FINDINGS_ROLE],
            )

    # --- filtering ------------------------------------------------------------------
    def set_filter(self, spec: ExampleFilter) -> None:
        """Filter in slices of ~30 ms; matches appear in the list as they are found."""
        self.spec = spec
        self._cancel_run()
        if spec.is_empty:
            self._show(None)
            return
        run = FilterRun(self.examples, spec, self.editor.worst_severity)
        if run.step(FILTER_STEP_S):  # small datasets: done at once, one update
            self._show(run.matches)
            return
        self._run = run
        self._show(list(run.matches), finished=False)
        self.filtering.emit(run.fraction)
        self._timer.start()

    def _cancel_run(self) -> bool:
        """Stop a filter run; True if one was running (and should start again)."""
        running = self._run is not None
        self._timer.stop()
        self._run = None
        return running

    @property
    def is_filtering(self) -> bool:
        return self._run is not None

    @property
    def filter_fraction(self) -> float:
        return self._run.fraction if self._run is not None else 1.0

    def _filter_step(self) -> None:
        run = self._run
        if run is None:
            self._timer.stop()
            return
        done = run.step(FILTER_STEP_S)
        # The first screenfuls appear at once; the rest in one update at the end (row by
        # row insertion into a view grows costly with tens of thousands of rows).
        first = len(self.visible)
        if first < PROGRESSIVE_ROWS and len(run.matches) > first:
            new = run.matches[first:PROGRESSIVE_ROWS]
            self.beginInsertRows(_ROOT, first, first + len(new) - 1)
            self.visible.extend(new)
            self.endInsertRows()
        if done:
            self._timer.stop()
            self._run = None
            if len(run.matches) > len(self.visible):
                self._show(run.matches)
            else:
                self.filter_applied.emit()
        else:
            self.filtering.emit(run.fraction)

    def _show(self, visible: list[int] | None, finished: bool = True) -> None:
        self.beginResetModel()
        self.visible = visible
        self.endResetModel()
        if finished:
            self.filter_applied.emit()

    def finish_filtering(self) -> None:
        """Run the current filter to the end now (tests; a small dataset)."""
        while self._run is not None:
            self._filter_step()


def _contiguous(indices: list[int]) -> bool:
    return bool(indices) and indices[-1] - indices[0] == len(indices) - 1


def _shift_after_inserts(visible: list[int], inserted: list[int]) -> list[int]:
    """Where the previously shown examples are after `inserted` (final positions) went in."""
    out = []
    k = 0
    for old in visible:
        # Count insertions landing at or before this example's new position.
        while k < len(inserted) and inserted[k] <= old + k:
            k += 1
        out.append(old + k)
    return out
