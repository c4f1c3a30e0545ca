"""The Versions tab: every saved version, opening one, and what changed between two."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.dataset.versions import DatasetVersion, diff_datasets, list_versions
from desktop.theme import BAD, GOOD, WARNING, status_color

COLUMNS = ("Dataset", "Version", "Note", "Saved", "Training", "Validation", "Content hash")
DIFF_ROWS_SHOWN = 200


def diff_report(a: DatasetVersion, b: DatasetVersion) -> str:
    """What changed from a to b, as HTML: counts, then the examples themselves."""
    old, new = a.load_dataset(), b.load_dataset()
    diff = diff_datasets(old, new)
    old_by_id = {e.id: e for e in old.examples}
    new_by_id = {e.id: e for e in new.examples}
    parts = [
        f"<h3>{escape(a.dataset)} {a.label} → {escape(b.dataset)} {b.label}</h3>",
        f"<p><b>{escape(diff.summary())}</b></p>",
    ]
    if diff.is_empty:
        parts.append("<p>The two versions hold the same examples.</p>")

    def section(title: str, ids: list[str], source: dict, color: str) -> None:
        if not ids:
            return
        parts.append(f"<h4 style='color:{color}'>{title} ({len(ids):,})</h4><ul>")
        for example_id in ids[:DIFF_ROWS_SHOWN]:
            example = source[example_id]
            parts.append(f"<li>{escape(example.first_user_text or example.raw_text[:120])}</li>")
        if len(ids) > DIFF_ROWS_SHOWN:
            parts.append(f"<li>… and {len(ids) - DIFF_ROWS_SHOWN:,} more</li>")
        parts.append("</ul>")

    section("Added", diff.added, new_by_id, status_color(GOOD))
    section("Removed", diff.removed, old_by_id, status_color(BAD))
    section("Changed", diff.changed, new_by_id, status_color(WARNING))
    return "".join(parts)


class VersionsPanel(QWidget):
    open_requested = Signal(object)  # DatasetVersion

    def __init__(self, project) -> None:
        super().__init__()
        self.project = project
        self.versions: list[DatasetVersion] = []
        self.open_version_id: int | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        hint = QLabel(
            "Each saved version is kept unchanged with its train/validation split, so every "
            "training run can say exactly what it learned from. Select one to open it, or two to compare."
        )
        hint.setWordWrap(True)
        layout.addWidget(hint)
        splitter = QSplitter(Qt.Orientation.Vertical)
        # A few dozen rows at most: a table widget is the simple right tool here.
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setDefaultSectionSize(26)
        for column, width in ((0, 150), (1, 90), (3, 130), (4, 80), (5, 80), (6, 110)):
            self.table.setColumnWidth(column, width)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _index: self.open_selected())
        splitter.addWidget(self.table)
        self.diff_view = QTextBrowser()
        self.diff_view.setPlaceholderText(
            "Select two versions and press Compare to see what changed."
        )
        splitter.addWidget(self.diff_view)
        splitter.setSizes([260, 300])
        layout.addWidget(splitter, 1)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open for editing")
        self.open_button.setToolTip(
            "Edit this version; saving makes a new version, the old one stays"
        )
        self.open_button.clicked.connect(self.open_selected)
        self.compare_button = QPushButton("Compare the two selected")
        self.compare_button.setToolTip(
            "Examples added, removed and changed from the older to the newer"
        )
        self.compare_button.clicked.connect(self.compare_selected)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.compare_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.refresh()

    def set_open_version(self, version_id: int | None) -> None:
        self.open_version_id = version_id
        self.refresh()

    def set_project(self, project) -> None:
        self.project = project
        self.diff_view.clear()
        self.refresh()

    def refresh(self) -> None:
        self.versions = list(reversed(list_versions(self.project)))  # newest first
        self.table.setRowCount(len(self.versions))
        for row, version in enumerate(self.versions):
            is_open = version.id == self.open_version_id
            values = (
                version.dataset,
                version.label + ("  (open)" if is_open else ""),
                version.note,
                version.created_at[:16].replace("T", " "),
                f"{version.n_train:,}",
                f"{version.n_valid:,}",
                version.content_hash[:12],
            )
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                if is_open:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                if column == 6:
                    item.setToolTip(
                        f"sha256 of the training and validation files: {version.content_hash}"
                    )
                self.table.setItem(row, column, item)
        self._selection_changed()

    def selected_versions(self) -> list[DatasetVersion]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.versions[row] for row in rows]

    def _selection_changed(self) -> None:
        selected = self.selected_versions()
        self.open_button.setEnabled(len(selected) == 1)
        self.compare_button.setEnabled(len(selected) == 2)

    def open_selected(self) -> None:
        selected = self.selected_versions()
        if len(selected) == 1:
            self.open_requested.emit(selected[0])

    def compare_selected(self) -> str:
        selected = self.selected_versions()
        if len(selected) != 2:
            return ""
        older, newer = sorted(selected, key=lambda v: v.id)
        html = diff_report(older, newer)
        self.diff_view.setHtml(html)
        return html
