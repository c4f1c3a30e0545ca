"""The Spend tab: GPU hours and cost against the budget, and a small form to record the
expert hours spent on data (usually the larger cost, the guide says)."""

from __future__ import annotations

import math
from html import escape

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.dataset.versions import list_versions
from core.figures import count_text, hours_text, money_text
from core.history.spend import (
    SpendSummary,
    delete_expert_hours,
    list_expert_hours,
    record_expert_hours,
)
from core.history.spend_settings import SpendInputError, SpendSettings, load_settings, save_settings
from desktop.theme import BAD, status_color, status_style

NO_VALUE = 0.0  # a spin box at 0 means "not set" for budgets and prices


def _help(name: str) -> str:
    return SpendSettings.__dataclass_fields__[name].metadata["help"]


def _money_spin(maximum: float = 10_000_000.0, suffix: str = "") -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(0.0, maximum)
    spin.setDecimals(2)
    spin.setSpecialValueText("not set")
    spin.setSuffix(suffix)
    spin.setMinimumWidth(140)
    spin.setMaximumWidth(220)
    return spin


class SpendView(QWidget):
    changed = Signal()  # settings or expert hours changed: the page refreshes its totals

    def __init__(self, project, parent=None) -> None:
        super().__init__(parent)
        self.project = project

        compute = QGroupBox("Compute")
        compute_layout = QVBoxLayout(compute)
        self.totals = QLabel()
        self.totals.setWordWrap(True)
        self.budget_bar = QProgressBar()
        self.budget_bar.setRange(0, 1000)
        self.budget_bar.setTextVisible(True)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.budget_spin = _money_spin()
        self.budget_spin.setPrefix("$")
        self.budget_spin.setToolTip(_help("budget"))
        self.hours_budget_spin = _money_spin(1_000_000.0, " h")
        self.hours_budget_spin.setToolTip(_help("budget_gpu_hours"))
        self.price_spin = _money_spin(10_000.0, " /h")
        self.price_spin.setPrefix("$")
        self.price_spin.setToolTip(_help("price_per_hour"))
        self.rate_spin = _money_spin(10_000.0, " /h")
        self.rate_spin.setPrefix("$")
        self.rate_spin.setToolTip(_help("expert_hourly_rate"))
        form.addRow("Budget", self.budget_spin)
        form.addRow("GPU-hour budget", self.hours_budget_spin)
        form.addRow("Price per hour (no catalog price)", self.price_spin)
        form.addRow("Expert rate", self.rate_spin)
        self.save_button = QPushButton("Save budget and prices")
        self.save_button.clicked.connect(self.save_settings)
        compute_layout.addWidget(self.totals)
        compute_layout.addWidget(self.budget_bar)
        compute_layout.addLayout(form)
        row = QHBoxLayout()
        row.addWidget(self.save_button)
        row.addStretch(1)
        compute_layout.addLayout(row)

        expert = QGroupBox("Expert hours on data")
        expert_layout = QVBoxLayout(expert)
        explain = QLabel(
            "Record the time experts spend writing and reviewing examples. The guide: a "
            "high-quality dataset of 2,000 examples takes 80-160 expert hours, usually the "
            "largest cost of the project."
        )
        explain.setWordWrap(True)
        expert_layout.addWidget(explain)
        entry = QHBoxLayout()
        self.date_edit = QDateEdit(QDate.currentDate())
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("yyyy-MM-dd")
        self.hours_spin = QDoubleSpinBox()
        self.hours_spin.setRange(0.0, 1000.0)
        self.hours_spin.setDecimals(2)
        self.hours_spin.setSuffix(" h")
        self.hours_spin.setValue(1.0)
        self.hours_spin.setToolTip("Hours of expert work on the data")
        self.entry_rate_spin = _money_spin(10_000.0, " /h")
        self.entry_rate_spin.setPrefix("$")
        self.entry_rate_spin.setToolTip("The rate for this entry (defaults to the expert rate)")
        self.activity_edit = QLineEdit()
        self.activity_edit.setPlaceholderText("What was done (e.g. reviewed 120 refund answers)")
        self.version_combo = QComboBox()
        self.version_combo.setToolTip("The dataset version the work went into (optional)")
        self.record_button = QPushButton("Record")
        self.record_button.setToolTip("Add this entry (Enter)")
        self.record_button.clicked.connect(self.record_entry)
        self.activity_edit.returnPressed.connect(self.record_entry)
        for widget in (self.date_edit, self.hours_spin, self.entry_rate_spin):
            entry.addWidget(widget)
        entry.addWidget(self.activity_edit, 1)
        entry.addWidget(self.version_combo)
        entry.addWidget(self.record_button)
        expert_layout.addLayout(entry)
        self.entry_problem = QLabel()
        self.entry_problem.setStyleSheet(status_style(BAD))
        self.entry_problem.hide()
        expert_layout.addWidget(self.entry_problem)
        self.entries = QTableWidget(0, 5)
        self.entries.setHorizontalHeaderLabels(["Date", "Hours", "Rate", "Cost", "Activity"])
        self.entries.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.entries.verticalHeader().hide()
        self.entries.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.entries.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.entries.setMinimumHeight(120)
        expert_layout.addWidget(self.entries, 1)
        remove_row = QHBoxLayout()
        self.remove_button = QPushButton("Remove entry")
        self.remove_button.clicked.connect(self.remove_selected_entry)
        remove_row.addWidget(self.remove_button)
        remove_row.addStretch(1)
        expert_layout.addLayout(remove_row)

        self.advice = QLabel()
        self.advice.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(self.advice)
        layout.addWidget(compute)
        layout.addWidget(expert, 1)
        self.load()

    # --- showing ----------------------------------------------------------------------
    def set_project(self, project) -> None:
        self.project = project
        self.load()

    def load(self) -> None:
        settings = load_settings(self.project)
        for spin, value in (
            (self.budget_spin, settings.budget),
            (self.hours_budget_spin, settings.budget_gpu_hours),
            (self.price_spin, settings.price_per_hour),
            (self.rate_spin, settings.expert_hourly_rate),
        ):
            spin.setValue(value or NO_VALUE)
        self.entry_rate_spin.setValue(settings.expert_hourly_rate or NO_VALUE)
        self._fill_versions()
        self._fill_entries()

    def _fill_versions(self) -> None:
        self.version_combo.clear()
        self.version_combo.addItem("no version", None)
        try:
            versions = list_versions(self.project)
        except Exception:
            versions = []
        for version in reversed(versions):
            self.version_combo.addItem(f"{version.dataset} {version.label}", version.id)

    def _fill_entries(self) -> None:
        entries = list_expert_hours(self.project)
        self.entries.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            cells = (
                entry.worked_on,
                f"{entry.hours:g}",
                money_text(entry.hourly_rate),
                money_text(entry.cost),
                entry.activity,
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, entry.id)
                if column in (1, 2, 3):
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.entries.setItem(row, column, item)
        self.remove_button.setEnabled(bool(entries))

    def show_summary(self, summary: SpendSummary) -> None:
        def money(value):
            return escape(money_text(value))

        lines = [
            f"<b>{count_text(summary.runs, 'run')}</b>, <b>{hours_text(summary.gpu_hours)}</b> "
            f"{summary.hours_label}, "
            f"<b>{money(summary.compute_cost)}</b> of compute"
        ]
        if summary.unpriced_hours > 0:
            lines.append(
                f"{hours_text(summary.unpriced_hours)} hours have no price (CPU runs or GPUs "
                "without a catalog price): set a price per hour below to count them."
            )
        lines.append(
            f"Expert work on data: <b>{summary.expert_hours:g} h</b> "
            f"({money(summary.expert_cost)}). Total so far: "
            f"<b>{money(summary.total_cost)}</b>"
            + (
                f", {summary.data_share:.0%} of it on data."
                if summary.data_share is not None
                else "."
            )
        )
        self.totals.setText("<br>".join(lines))
        used = summary.budget_used
        if used is None:
            self.budget_bar.setValue(0)
            self.budget_bar.setFormat("No budget set")
        else:
            shown = 1.0 if math.isinf(used) else min(used, 1.0)
            self.budget_bar.setValue(int(shown * 1000))
            self.budget_bar.setFormat(
                f"{money_text(summary.compute_cost)} of {money_text(summary.budget)} "
                f"({'over budget' if used > 1 else f'{used:.0%}'})"
            )
        hours_used = summary.gpu_hours_used
        if hours_used is not None:
            self.budget_bar.setFormat(
                self.budget_bar.format()
                + f"; {hours_text(summary.gpu_hours)} of {summary.budget_gpu_hours:g} GPU hours"
            )
        over = used is not None and used > 1
        self.budget_bar.setStyleSheet(
            f"QProgressBar::chunk {{ background: {status_color(BAD)}; }}" if over else ""
        )
        self.advice.setText(summary.advice())

    # --- editing ----------------------------------------------------------------------
    @staticmethod
    def _value(spin: QDoubleSpinBox) -> float | None:
        return None if spin.value() == NO_VALUE else spin.value()

    def save_settings(self) -> None:
        settings = SpendSettings(
            budget=self._value(self.budget_spin),
            budget_gpu_hours=self._value(self.hours_budget_spin),
            price_per_hour=self._value(self.price_spin),
            expert_hourly_rate=self._value(self.rate_spin),
        )
        save_settings(self.project, settings)
        if self.entry_rate_spin.value() == NO_VALUE:
            self.entry_rate_spin.setValue(settings.expert_hourly_rate or NO_VALUE)
        self.changed.emit()

    def record_entry(self) -> None:
        try:
            record_expert_hours(
                self.project,
                self.hours_spin.value(),
                self.entry_rate_spin.value(),
                self.activity_edit.text(),
                self.date_edit.date().toString("yyyy-MM-dd"),
                self.version_combo.currentData(),
            )
        except SpendInputError as error:
            self.entry_problem.setText(f"Not recorded: {error}")
            self.entry_problem.show()
            return
        self.entry_problem.hide()
        self.activity_edit.clear()
        self._fill_entries()
        self.changed.emit()

    def remove_selected_entry(self) -> None:
        row = self.entries.currentRow()
        item = self.entries.item(row, 0) if row >= 0 else None
        if item is None:
            return
        delete_expert_hours(self.project, item.data(Qt.ItemDataRole.UserRole))
        self._fill_entries()
        self.changed.emit()
