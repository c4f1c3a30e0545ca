"""The left side of the Examples tab: search and filters, the list, and the list's buttons."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.dataset.example_filter import WITH_ANY_FINDING, WITHOUT_FINDINGS, ExampleFilter
from core.figures import count_text
from desktop.dataset.examples_model import (
    COL_CONVERSATION,
    COL_FINDINGS,
    COL_NUMBER,
    COL_RATING,
    COL_REVIEWED,
    COL_TAGS,
    ExamplesTableModel,
)

SEVERITY_CHOICES = (
    ("Any check result", None),
    ("Errors (block training)", "error"),
    ("Warnings or errors", "warning"),
    ("Any finding", WITH_ANY_FINDING),
    ("No findings", WITHOUT_FINDINGS),
)
REVIEW_CHOICES = (("Reviewed or not", None), ("Reviewed", True), ("Not reviewed yet", False))
ALL_TAGS = "All tags"
TYPING_DELAY_MS = 150


class ExamplesPanel(QWidget):
    current_changed = Signal(object)  # dataset index or None
    delete_requested = Signal()

    def __init__(self, model: ExamplesTableModel) -> None:
        super().__init__()
        self.model = model
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search the messages and tags  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Shows the examples whose messages or tags contain this text")
        self.search.textChanged.connect(lambda _text: self._typing.start())
        layout.addWidget(self.search)

        filters = QHBoxLayout()
        self.tag_box = QComboBox()
        self.tag_box.setToolTip("Only examples with this tag")
        self.tag_box.addItem(ALL_TAGS, None)
        self.severity_box = QComboBox()
        self.severity_box.setToolTip("Only examples with (or without) problems found by the checks")
        for text, value in SEVERITY_CHOICES:
            self.severity_box.addItem(text, value)
        self.review_box = QComboBox()
        self.review_box.setToolTip("Only reviewed, or only not yet reviewed, examples")
        for text, value in REVIEW_CHOICES:
            self.review_box.addItem(text, value)
        for box in (self.tag_box, self.severity_box, self.review_box):
            box.currentIndexChanged.connect(self.apply_filter)
            filters.addWidget(box, 1)
        layout.addLayout(filters)

        self.table = QTableView()
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        vertical = self.table.verticalHeader()
        vertical.hide()
        # Fixed row heights: the view never measures 100,000 rows.
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(26)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_CONVERSATION, QHeaderView.ResizeMode.Stretch)
        for column, width in (
            (COL_NUMBER, 44),
            (COL_FINDINGS, 54),
            (COL_TAGS, 80),
            (COL_REVIEWED, 28),
            (COL_RATING, 62),
        ):
            self.table.setColumnWidth(column, width)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        model.modelReset.connect(self._after_reset)
        model.filter_applied.connect(self._filter_done)
        model.filtering.connect(self._update_count)
        model.rowsInserted.connect(self._update_count)
        model.rowsRemoved.connect(self._update_count)
        layout.addWidget(self.table, 1)

        bottom = QHBoxLayout()
        self.count_label = QLabel()
        self.count_label.setStyleSheet("color: palette(placeholder-text);")
        bottom.addWidget(self.count_label, 1)
        self.new_button = QPushButton("+ New example")
        self.new_button.setToolTip("Add an empty conversation after the selected one")
        bottom.addWidget(self.new_button)
        self.duplicate_button = QToolButton()
        self.duplicate_button.setText("Duplicate")
        self.duplicate_button.setToolTip(
            "Copy the selected examples (a copy is a good start for a variant)"
        )
        bottom.addWidget(self.duplicate_button)
        self.delete_button = QToolButton()
        self.delete_button.setText("Delete")
        self.delete_button.setToolTip("Delete the selected examples (Del; undo with Ctrl+Z)")
        self.delete_button.clicked.connect(self.delete_requested)
        bottom.addWidget(self.delete_button)
        self.up_button = QToolButton()
        self.up_button.setText("↑")
        self.up_button.setToolTip("Move the selected example up (Alt+Up)")
        self.down_button = QToolButton()
        self.down_button.setText("↓")
        self.down_button.setToolTip("Move the selected example down (Alt+Down)")
        bottom.addWidget(self.up_button)
        bottom.addWidget(self.down_button)
        layout.addLayout(bottom)

        self._typing = QTimer(self, singleShot=True, interval=TYPING_DELAY_MS)
        self._typing.timeout.connect(self.apply_filter)
        self._current: int | None = None

    # --- filter ---------------------------------------------------------------------
    def current_filter(self) -> ExampleFilter:
        return ExampleFilter(
            text=self.search.text(),
            tag=self.tag_box.currentData(),
            severity=self.severity_box.currentData(),
            reviewed=self.review_box.currentData(),
        )

    def apply_filter(self) -> None:
        self._typing.stop()
        self.model.set_filter(self.current_filter())
        self._update_count()

    def set_tags(self, tags: list[str]) -> None:
        current = self.tag_box.currentData()
        self.tag_box.blockSignals(True)
        self.tag_box.clear()
        self.tag_box.addItem(ALL_TAGS, None)
        for tag in tags:
            self.tag_box.addItem(tag, tag)
        index = self.tag_box.findData(current) if current is not None else 0
        self.tag_box.setCurrentIndex(max(index, 0))
        self.tag_box.blockSignals(False)

    def show_tag(self, tag: str) -> None:
        if self.tag_box.findData(tag) < 0:
            self.tag_box.addItem(tag, tag)
        self.tag_box.setCurrentIndex(self.tag_box.findData(tag))

    def clear_filters(self) -> None:
        for box in (self.tag_box, self.severity_box, self.review_box):
            box.blockSignals(True)
            box.setCurrentIndex(0)
            box.blockSignals(False)
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self.apply_filter()

    def _filter_done(self) -> None:
        self._update_count()
        if self._current is not None and self.model.row_of(self._current) is not None:
            self.select(self._current)

    def _update_count(self, *_args) -> None:
        total = len(self.model.examples)
        shown = self.model.rowCount()
        if self.model.is_filtering:
            self.count_label.setText(
                f"Searching… {self.model.filter_fraction:.0%} · {shown:,} found so far"
            )
        elif self.model.visible is None:
            self.count_label.setText(count_text(total, "example"))
        else:
            self.count_label.setText(f"Showing {shown:,} of {count_text(total, 'example')}")

    # --- selection ------------------------------------------------------------------
    @property
    def current_index(self) -> int | None:
        return self._current

    def selected_indices(self) -> list[int]:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        if not rows and self._current is not None:
            return [self._current]
        return sorted(self.model.dataset_index(row) for row in rows)

    def select(self, dataset_index: int | None) -> None:
        """Make this example current (and selected when the filter shows it)."""
        self._current = dataset_index
        row = self.model.row_of(dataset_index) if dataset_index is not None else None
        selection = self.table.selectionModel()
        selection.blockSignals(True)
        if row is None:
            selection.clearSelection()
            selection.setCurrentIndex(
                self.model.index(-1, -1), QItemSelectionModel.SelectionFlag.NoUpdate
            )
        else:
            index = self.model.index(row, COL_CONVERSATION)
            selection.setCurrentIndex(
                index,
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )
            self.table.scrollTo(index)
        selection.blockSignals(False)
        self.table.viewport().update()
        self.current_changed.emit(dataset_index)

    def _on_current_row(self, current, _previous) -> None:
        if not current.isValid():
            return
        self._current = self.model.dataset_index(current.row())
        self.current_changed.emit(self._current)

    def _after_reset(self) -> None:
        self._update_count()
        if self._current is not None and self._current < len(self.model.examples):
            self.select(self._current)
