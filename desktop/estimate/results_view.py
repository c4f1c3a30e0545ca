"""The Estimate page's results: the pick, the memory bar, the methods table, what would fit,
and how the estimate was made. It shows a Recommendation; the form beside it makes one.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.estimate import Recommendation
from core.estimate.memory import COMPONENT_TITLES
from core.figures import duration_text, money_text
from core.methods import METHOD_TITLES
from desktop.estimate.memory_bar import BarSegment, MemoryBar
from desktop.theme import BAD, GOOD, WARNING, status_color, status_style

# Below this width the title gets the column's whole width and its buttons go under it.
NARROW_WIDTH = 520


class EstimateResults(QWidget):
    method_clicked = Signal(str)  # a row of the methods table: show that method
    train_requested = Signal()
    copy_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title_fits: bool | None = None
        self._assumptions_html = ""
        self._fit_colors = {True: QColor(status_color(GOOD)), False: QColor(status_color(BAD))}
        self._plain_font = QFont(self.font())
        self._bold_font = QFont(self.font())
        self._bold_font.setBold(True)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(10)
        self.pick_title = QLabel()
        self.pick_title.setWordWrap(True)
        self.pick_title.setStyleSheet("font-size: 18px; font-weight: 600;")
        self.pick_reason = QLabel()
        self.pick_reason.setWordWrap(True)
        self.pick_reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(status_style(BAD) + " font-weight: 600;")
        self.error_label.hide()
        # The buttons sit beside the title, or under it in a narrow column (see resizeEvent).
        title_row = self.title_row = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        title_row.addWidget(self.pick_title, 1)
        buttons = self.title_buttons = QHBoxLayout()
        copy_button = QPushButton("Copy")
        copy_button.setToolTip(
            "Copy the pick, the table and the assumptions as text (Ctrl+Shift+C)"
        )
        copy_button.clicked.connect(self.copy_requested)
        self.train_button = QPushButton("Train with these settings")
        self.train_button.setToolTip(
            "Open the Train page with the shown method, batch, sequence length, "
            "checkpointing, optimizer and LoRA settings"
        )
        self.train_button.clicked.connect(self.train_requested)
        buttons.addWidget(self.train_button)
        buttons.addWidget(copy_button)
        title_row.addLayout(buttons)
        title_row.setAlignment(buttons, Qt.AlignmentFlag.AlignTop)
        column.addLayout(title_row)
        column.addWidget(self.pick_reason)
        column.addWidget(self.error_label)

        self.bar = MemoryBar()
        column.addWidget(self.bar)

        self.methods_table = QTableWidget(0, 6)
        self.methods_table.setHorizontalHeaderLabels(
            ["Method", "Fits", "Peak GiB", "Spare GiB", "Time", "Cost"]
        )
        self.methods_table.verticalHeader().hide()
        self.methods_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.methods_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.methods_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.methods_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, 6):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.methods_table.setToolTip("Click a method to show its memory in the bar above")
        self.methods_table.cellClicked.connect(self._table_clicked)
        column.addWidget(self.methods_table)

        self.fixes_label = QLabel()
        self.fixes_label.setWordWrap(True)
        self.fixes_label.setTextFormat(Qt.TextFormat.RichText)
        self.fixes_label.hide()
        column.addWidget(self.fixes_label)
        self.warnings_label = QLabel()
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setStyleSheet(status_style(WARNING))
        self.warnings_label.hide()
        column.addWidget(self.warnings_label)
        self.capacity_label = QLabel()
        self.capacity_label.setObjectName("capacity_label")
        self.capacity_label.setWordWrap(True)
        self.capacity_label.setToolTip(
            "The longest sequence each method trains on this GPU at this micro batch, with "
            "the memory savers (Memory settings) that are left on auto turned on as needed, "
            "cheapest first."
        )
        self.capacity_label.hide()
        column.addWidget(self.capacity_label)

        details = self.details_box = QGroupBox("How this was estimated")
        details_layout = QVBoxLayout(details)
        # A text browser lays its text out inside its own viewport; a word-wrapped label
        # here would make the whole page re-measure itself on every change.
        self.assumptions_view = QTextBrowser()
        self.assumptions_view.setOpenLinks(False)
        self.assumptions_view.setFrameShape(QFrame.Shape.NoFrame)
        self.assumptions_view.setMinimumHeight(230)
        self.assumptions_view.viewport().setAutoFillBackground(False)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() - 1))
        self.assumptions_view.setFont(small)
        details_layout.addWidget(self.assumptions_view)
        # The assumptions take the column's spare height: with a stretch below them instead
        # they scrolled inside a 230 px box above an empty half of the page.
        column.addWidget(details, 1)

    def resizeEvent(self, event) -> None:
        # A QBoxLayout cannot wrap: beside the buttons in the column a 960 px window leaves,
        # the title was one word per line and the page scrolled sideways.
        narrow = event.size().width() < NARROW_WIDTH
        if narrow != (self.title_row.direction() == QBoxLayout.Direction.TopToBottom):
            self.title_row.setDirection(
                QBoxLayout.Direction.TopToBottom if narrow else QBoxLayout.Direction.LeftToRight
            )
            self.title_row.setAlignment(
                self.title_buttons,
                Qt.AlignmentFlag.AlignLeft if narrow else Qt.AlignmentFlag.AlignTop,
            )
        super().resizeEvent(event)

    def show_error(self, message: str) -> None:
        self.pick_title.setText("Cannot estimate with these settings")
        self._set_title_color(False)
        self.pick_reason.setText("Change the setting named below; the estimate comes back at once.")
        self.error_label.setText(message[0].upper() + message[1:] if message else message)
        self.error_label.show()
        self.bar.hide()
        self.methods_table.setRowCount(0)
        self.methods_table.hide()
        self.fixes_label.hide()
        self.warnings_label.hide()
        self.assumptions_view.clear()
        self._assumptions_html = ""
        self.details_box.hide()

    def show_summary(self, headline: str, details: list[str], fits: bool | None) -> None:
        """A plain estimate without the methods table (training on this machine's CPU)."""
        self._set_text(self.pick_title, headline)
        self._set_title_color(fits is not False)
        self._set_text(self.pick_reason, "\n\n".join(details))
        self.error_label.hide()
        for widget in (self.bar, self.methods_table, self.fixes_label, self.warnings_label):
            widget.hide()
        self.capacity_label.hide()
        self.assumptions_view.clear()
        self._assumptions_html = ""
        self.details_box.hide()

    @staticmethod
    def _set_text(label: QLabel, text: str) -> None:
        if label.text() != text:  # an unchanged rich-text label still re-lays itself out
            label.setText(text)

    def _set_title_color(self, fits: bool) -> None:
        if self._title_fits is not fits:  # style sheets are slow to re-apply
            color = status_color(GOOD) if fits else status_color(BAD)
            self.pick_title.setStyleSheet(f"font-size: 18px; font-weight: 600; color: {color};")
            self._title_fits = fits

    def show_capacity(self, text: str) -> None:
        """The longest context per method and the savers the estimate turned on."""
        self._set_text(self.capacity_label, text)
        self.capacity_label.setVisible(bool(text))

    def show_recommendation(self, rec: Recommendation) -> None:
        self.error_label.hide()
        self.bar.show()
        self.methods_table.show()
        self.details_box.show()
        chosen = rec.chosen
        verdict = chosen.fit_summary()
        self._set_text(self.pick_title, f"{METHOD_TITLES[rec.method]}: {verdict}")
        self._set_title_color(chosen.fits)
        self._set_text(self.pick_reason, rec.reason)
        segments = [
            BarSegment(c.key, COMPONENT_TITLES[c.key], c.gib, c.detail)
            for c in chosen.memory.components
        ]
        self.bar.set_breakdown(
            segments,
            chosen.memory.capacity_gib,
            f"{METHOD_TITLES[rec.method]}: {chosen.peak_gib:.1f} GiB per GPU at the "
            f"{chosen.memory.phase}",
        )
        self._fill_table(rec)
        fitting = rec.fitting_fixes()
        if rec.fixes:
            items = fitting or sorted(rec.fixes, key=lambda fix: fix.peak_gib)[:3]
            heading = "What would fit:" if fitting else "Nothing tried fits. Closest:"
            bullets = "".join(
                f"<li>{fix.label}: {fix.peak_gib:.1f} GiB"
                + (
                    f", {duration_text(fix.estimate.hours * 3600, rough=True)}, {money_text(fix.estimate.cost_usd)}"
                    if fix.fits
                    else ""
                )
                + "</li>"
                for fix in items[:6]
            )
            self._set_text(
                self.fixes_label, f"<b>{heading}</b><ul style='margin-top:2px'>{bullets}</ul>"
            )
            self.fixes_label.show()
        else:
            self.fixes_label.hide()
        if chosen.warnings:
            self.warnings_label.setText("  ".join(f"⚠ {text}" for text in chosen.warnings))
            self.warnings_label.show()
        else:
            self.warnings_label.hide()
        items = "".join(f"<li>{text}</li>" for text in chosen.assumptions)
        html = f"<ul style='margin-left:-20px'>{items}</ul>"
        if html != self._assumptions_html:
            self.assumptions_view.setHtml(html)
            self._assumptions_html = html

    def _fill_table(self, rec: Recommendation) -> None:
        table = self.methods_table
        if table.rowCount() != len(rec.estimates):
            # Items are made once and then updated: re-creating them costs more than the estimate.
            table.setRowCount(len(rec.estimates))
            for row in range(table.rowCount()):
                for col in range(table.columnCount()):
                    item = QTableWidgetItem()
                    if col:
                        item.setTextAlignment(
                            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                        )
                    table.setItem(row, col, item)
            table.setFixedHeight(
                table.horizontalHeader().height()
                + sum(table.rowHeight(r) for r in range(table.rowCount()))
                + 4
            )
        for row, (method, result) in enumerate(rec.estimates.items()):
            fits = "yes" if result.fits else "no"
            if result.memory.pages_to_cpu:
                fits = "paged"
            hours = result.hours
            cells = [
                METHOD_TITLES[method] + ("  ★" if method == rec.method else ""),
                fits,
                f"{result.peak_gib:.1f}",
                f"{result.headroom_gib:+.1f}",
                duration_text(hours * 3600, rough=True),
                money_text(result.cost_usd),
            ]
            summary = result.fit_summary()
            for col, text in enumerate(cells):
                item = table.item(row, col)
                if item.text() != text:
                    item.setText(text)
                if item.data(Qt.ItemDataRole.UserRole) != method:
                    item.setData(Qt.ItemDataRole.UserRole, method)
                if col == 1:
                    item.setForeground(self._fit_colors[result.fits])
                chosen = method == rec.method
                if item.font().bold() != chosen:
                    item.setFont(self._bold_font if chosen else self._plain_font)
                if item.toolTip() != summary:
                    item.setToolTip(summary)

    def _table_clicked(self, row: int, _column: int) -> None:
        item = self.methods_table.item(row, 0)
        if item is not None:
            self.method_clicked.emit(item.data(Qt.ItemDataRole.UserRole))
