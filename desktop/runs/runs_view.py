"""The All runs tab: the filterable, sortable table of runs with its actions and details."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.figures import count_text, money_text
from core.runs.record import RunInfo, RunState
from desktop.runs.runs_table import RUN_ID_ROLE, RunsFilterModel, RunsTableModel, column

WIDE_COLUMNS = {
    "name": 190,
    "started": 128,
    "settings": 230,
    "eval": 200,
    "status": 130,
    "method": 160,  # "qlora, SFT (continued)" whole
    "note": 160,
}


class RunsTableView(QWidget):
    selection_changed = Signal(list)  # run ids, in the order selected
    compare_requested = Signal()
    rename_requested = Signal()
    note_requested = Signal()
    delete_requested = Signal()
    export_requested = Signal()
    clean_leftovers_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.model = RunsTableModel(self)
        self.proxy = RunsFilterModel(self)
        self.proxy.setSourceModel(self.model)
        self._selected: list[str] = []

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter: name, model, method, data, settings, note…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setToolTip("Show only runs whose text contains every word (Ctrl+F)")
        self.filter_edit.textChanged.connect(self.proxy.set_text)
        self.status_combo = QComboBox()
        self.status_combo.addItem("All statuses", "")
        for status in RunState:
            self.status_combo.addItem(status.value.capitalize(), status.value)
        self.status_combo.setToolTip("Show only runs with this status")
        self.status_combo.currentIndexChanged.connect(
            lambda: self.proxy.set_status(self.status_combo.currentData())
        )
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("Overlay the selected runs' curves and diff them (Ctrl+D)")
        self.rename_button = QPushButton("Rename")
        self.rename_button.setToolTip("Rename the selected run (F2); Ctrl+Z undoes")
        self.note_button = QPushButton("Note")
        self.note_button.setToolTip("Write a note on the selected run; Ctrl+Z undoes")
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Save the selected run's metrics as CSV (and TensorBoard)")
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Delete the selected runs and their files (Delete)")
        self.compare_button.clicked.connect(self.compare_requested)
        self.rename_button.clicked.connect(self.rename_requested)
        self.note_button.clicked.connect(self.note_requested)
        self.export_button.clicked.connect(self.export_requested)
        self.delete_button.clicked.connect(self.delete_requested)

        bar = QHBoxLayout()
        bar.addWidget(self.filter_edit, 1)
        bar.addWidget(self.status_combo)
        for button in (
            self.compare_button,
            self.rename_button,
            self.note_button,
            self.export_button,
            self.delete_button,
        ):
            bar.addWidget(button)

        self.leftover_bar = QWidget()
        leftover_layout = QHBoxLayout(self.leftover_bar)
        leftover_layout.setContentsMargins(0, 0, 0, 0)
        self.leftover_label = QLabel()
        self.leftover_label.setWordWrap(True)
        self.leftover_button = QPushButton("Remove them")
        self.leftover_button.clicked.connect(self.clean_leftovers_requested)
        leftover_layout.addWidget(self.leftover_label, 1)
        leftover_layout.addWidget(self.leftover_button)
        self.leftover_bar.hide()

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(column("started"), Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultSectionSize(100)
        header.setStretchLastSection(True)
        for key, width in WIDE_COLUMNS.items():
            self.table.setColumnWidth(column(key), width)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)

        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setStyleSheet("color: palette(placeholder-text);")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.leftover_bar)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)

        for sequence, handler in (
            (QKeySequence.StandardKey.Find, self.filter_edit.setFocus),
            (QKeySequence("Ctrl+D"), self.compare_requested.emit),
            (QKeySequence.StandardKey.Delete, self.delete_requested.emit),
        ):
            action = QAction(self)
            action.setShortcut(sequence)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(handler)
            self.addAction(action)
        self._update_buttons()

    # --- contents -----------------------------------------------------------------------
    def set_summaries(self, summaries: list[RunInfo]) -> None:
        keep = list(self._selected)
        self.model.set_summaries(summaries)
        self.select_runs(keep)

    def select_runs(self, run_ids: list[str]) -> None:
        """Select these runs in one go (one selection change, not one per run); the order
        given is kept: the first is the comparison's reference."""
        selection = QItemSelection()
        for run_id in run_ids:
            row = self.model.row_of(run_id)
            if row is None:
                continue
            index = self.proxy.mapFromSource(self.model.index(row, 0))
            if index.isValid():
                selection.select(index, index)
        model = self.table.selectionModel()
        model.blockSignals(True)
        model.select(
            selection,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        model.blockSignals(False)
        self.table.viewport().update()
        self._selected = [run_id for run_id in run_ids if self.model.row_of(run_id) is not None]
        self._on_selection()

    def selected_ids(self) -> list[str]:
        return list(self._selected)

    def selected_summaries(self) -> list[RunInfo]:
        rows = {s.run_id: s for s in self.model.summaries()}
        return [rows[run_id] for run_id in self._selected if run_id in rows]

    def show_leftovers(self, count: int) -> None:
        self.leftover_label.setText(
            f"{count_text(count, 'run folder')} {'belongs' if count == 1 else 'belong'} to no run (a delete that could not finish removing "
            "files). They take disk space only."
        )
        self.leftover_bar.setVisible(count > 0)

    # --- behaviour ----------------------------------------------------------------------
    def _on_selection(self, *_args) -> None:
        rows = self.table.selectionModel().selectedRows()
        current = [index.data(RUN_ID_ROLE) for index in rows]
        # Keep the order in which the user picked runs: the first one is the reference.
        ordered = [run_id for run_id in self._selected if run_id in current]
        ordered += [run_id for run_id in current if run_id not in ordered]
        self._selected = ordered
        self._update_buttons()
        self._show_details()
        self.selection_changed.emit(list(ordered))

    def _update_buttons(self) -> None:
        count = len(self._selected)
        self.compare_button.setEnabled(count >= 1)
        self.compare_button.setText(f"Compare {count}" if count >= 2 else "Compare")
        for button in (self.rename_button, self.note_button, self.export_button):
            button.setEnabled(count == 1)
        self.delete_button.setEnabled(count >= 1)

    def _show_details(self) -> None:
        runs = self.selected_summaries()
        if len(runs) != 1:
            self.details.setText(
                f"{count_text(len(runs), 'run')} selected."
                if runs
                else "Select a run to see its details."
            )
            return
        run = runs[0]
        lines = [f"{run.device or 'device not recorded'}; steps {run.steps_done}/{run.max_steps}"]
        if run.price.per_hour is not None:
            lines.append(f"price {money_text(run.price.per_hour)}/h from the {run.price.source}")
        if run.note:
            lines.append(f"Note: {run.note}")
        lines.append(str(run.folder))
        parts = [f"<b>{escape(run.name)}</b> ({escape(run.run_id)}) — {escape(run.status_text)}"]
        parts += [escape(line) for line in lines]
        self.details.setText("<br>".join(parts))
