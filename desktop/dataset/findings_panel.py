"""The Findings tab: every problem the checks found, with where it is and what to do.

Clicking a finding jumps to its example and message; "Fix all" applies every certain
fix as one undoable step.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.dataset.findings import SEVERITY_RANK, Finding
from desktop.dataset.editor import DatasetEditor
from desktop.theme import severity_color

_ROOT = QModelIndex()  # the invisible root: these are flat tables
COLUMNS = ("Severity", "Where", "Problem", "What to do")
SEVERITY_FILTERS = (
    ("Errors and warnings", 1),
    ("Errors only", 2),
    ("Everything (also notes)", 0),
)


class FindingsTableModel(QAbstractTableModel):
    def __init__(self, editor: DatasetEditor, parent=None) -> None:
        super().__init__(parent)
        self.editor = editor
        self.rows: list[tuple[Finding, object]] = []
        self.minimum_rank = 1

    def refresh(self) -> None:
        self.beginResetModel()
        rows = [
            (finding, example)
            for finding, example in self.editor.all_findings()
            if SEVERITY_RANK[finding.severity] >= self.minimum_rank
        ]
        # Errors first; within a severity, dataset order.
        rows.sort(key=lambda row: -SEVERITY_RANK[row[0].severity])
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent=_ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=_ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def where(self, finding: Finding, example) -> str:
        if example is None:
            return f"line {finding.line}" if finding.line else "whole dataset"
        position = self.editor.position_of(example)
        text = f"example {position + 1}" if position is not None else "an edited example"
        if finding.message_index is not None:
            text += f", message {finding.message_index + 1}"
        return text

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        finding, example = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                finding.severity + (" · fixable" if finding.fixable else ""),
                self.where(finding, example),
                finding.message,
                finding.fix,
            )[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return (
                f"{finding.message}\n\nWhat to do: {finding.fix}"
                if finding.fix
                else finding.message
            )
        if role == Qt.ItemDataRole.ForegroundRole and column == 0:
            return QBrush(QColor(severity_color(finding.severity)))
        return None


class FindingsPanel(QWidget):
    jump_requested = Signal(object, object)  # Finding, Example or None
    fix_all_requested = Signal()

    def __init__(self, editor: DatasetEditor) -> None:
        super().__init__()
        self.editor = editor
        self.model = FindingsTableModel(editor, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.summary = QLabel()
        self.summary.setStyleSheet("font-size: 14px;")
        top.addWidget(self.summary, 1)
        self.filter_box = QComboBox()
        for text, rank in SEVERITY_FILTERS:
            self.filter_box.addItem(text, rank)
        self.filter_box.setToolTip("Which findings to list")
        self.filter_box.currentIndexChanged.connect(self._filter_changed)
        top.addWidget(self.filter_box)
        self.fix_all_button = QPushButton("Fix all certain ones")
        self.fix_all_button.setToolTip(
            "Apply every fix that is certain as one step you can undo: trim whitespace, use "
            "the common system prompt, delete exact copies of an earlier example"
        )
        self.fix_all_button.clicked.connect(self.fix_all_requested)
        top.addWidget(self.fix_all_button)
        self.check_button = QPushButton("Check again")
        self.check_button.setToolTip("Run every check on the whole dataset now")
        self.check_button.clicked.connect(editor.check_now)
        top.addWidget(self.check_button)
        layout.addLayout(top)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 118)
        self.table.setColumnWidth(1, 170)
        self.table.setColumnWidth(3, 320)
        self.table.clicked.connect(self._clicked)
        self.table.activated.connect(self._clicked)
        layout.addWidget(self.table, 1)
        hint = QLabel(
            "Click a finding to go to its example. Errors must be fixed before a version "
            "can be saved; warnings are the known pitfalls worth a look."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(hint)

        self._refresh_timer = QTimer(self, singleShot=True, interval=200)
        self._refresh_timer.timeout.connect(self.refresh)
        editor.findings_changed.connect(self._refresh_timer.start)
        editor.checking.connect(self._show_checking)
        self.refresh()

    def _filter_changed(self) -> None:
        self.model.minimum_rank = self.filter_box.currentData()
        self.refresh()

    def refresh(self) -> None:
        self.model.refresh()
        counts = self.editor.counts()
        fixable = sum(1 for finding, _ in self.editor.all_findings() if finding.fixable)
        self.fix_all_button.setEnabled(fixable > 0)
        self.fix_all_button.setText(
            f"Fix all certain ones ({fixable:,})" if fixable else "Fix all certain ones"
        )
        if not self.editor.is_open:
            self.summary.setText("No dataset open.")
        elif not any(counts.values()):
            self.summary.setText("✓ No problems found.")
        else:
            self.summary.setText(
                f"<b style='color:{severity_color('error')}'>{counts['error']:,} errors</b> · "
                f"<b style='color:{severity_color('warning')}'>{counts['warning']:,} warnings</b> · "
                f"{counts['info']:,} notes"
            )
        if self.editor.is_checking:
            self._show_checking(True)

    def _show_checking(self, running: bool) -> None:
        self.check_button.setEnabled(not running)
        self.check_button.setText("Checking…" if running else "Check again")

    def _clicked(self, index) -> None:
        if index.isValid():
            finding, example = self.model.rows[index.row()]
            self.jump_requested.emit(finding, example)
