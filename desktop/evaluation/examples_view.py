"""Every example with the baseline's and a candidate's answers, the differences highlighted,
filterable to regressions and failures; a failure becomes a draft training example."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from PySide6.QtCore import QAbstractTableModel, QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.evaluation.error_analysis import (
    BOTH_FAIL,
    BOTH_PASS,
    IMPROVEMENT,
    NOT_CHECKED,
    REGRESSION,
    DraftExample,
    ExampleComparison,
    compare_examples,
    draft_training_example,
)
from core.evaluation.results import EvalResult
from desktop.evaluation.answer_diff import diff_html, plain_html
from desktop.theme import BAD, GOOD, MUTED, WARNING, status_color

FILTER_TITLES = {
    "all": "All examples",
    "regressions": "Regressions",
    "failures": "Candidate failures",
    "improvements": "Improvements",
}
FILTER_HELP = {
    "all": "Every example of the eval set",
    "regressions": "The baseline passed, the candidate failed",
    "failures": "The candidate failed, whatever the baseline did",
    "improvements": "The baseline failed, the candidate passed",
}
STATUS_KINDS = {
    REGRESSION: BAD,
    IMPROVEMENT: GOOD,
    BOTH_FAIL: WARNING,
    BOTH_PASS: MUTED,
    NOT_CHECKED: MUTED,
}
COLUMNS = ("#", "Prompt", "Baseline", "Candidate", "Status")


def _verdict(passed: bool | None) -> str:
    return "not checked" if passed is None else ("pass" if passed else "fail")


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ExampleRowsModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[ExampleComparison] = []
        self.single = False  # only the baseline was evaluated

    def set_rows(self, rows: list[ExampleComparison], single: bool) -> None:
        self.beginResetModel()
        self.rows, self.single = rows, single
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else (3 if self.single else len(COLUMNS))

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                str(row.index + 1),
                row.example.user_text.replace("\n", " ")[:160],
                _verdict(row.passed_a),
                _verdict(row.passed_b),
                row.status,
            )[column]
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == 4:
                return QBrush(QColor(status_color(STATUS_KINDS.get(row.status, MUTED))))
            if column in (2, 3):
                passed = row.passed_a if column == 2 else row.passed_b
                if passed is not None:
                    return QBrush(QColor(status_color(GOOD) if passed else status_color(BAD)))
        if role == Qt.ItemDataRole.ToolTipRole and column == 1:
            return row.example.user_text[:1000]
        return None

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None


class ExamplesView(QWidget):
    """Emits `drafts_requested(list[DraftExample])` when the user adds failures to the data."""

    drafts_requested = Signal(list)

    def __init__(self) -> None:
        super().__init__()
        self.results: list[EvalResult] = []
        self.all_rows: list[ExampleComparison] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)

        controls = QHBoxLayout()
        self.candidate_combo = QComboBox()
        self.candidate_combo.setToolTip("The fine-tuned model whose answers are compared")
        self.filter_combo = QComboBox()
        self.filter_combo.setToolTip(
            "Show every example, or only those the candidate got wrong (Alt+R: regressions, "
            "Alt+F: failures, Alt+A: all)"
        )
        for key in FILTER_TITLES:
            self.filter_combo.addItem(FILTER_TITLES[key], key)
            self.filter_combo.setItemData(
                self.filter_combo.count() - 1, FILTER_HELP[key], Qt.ItemDataRole.ToolTipRole
            )
        self.count_label = QLabel()
        self.count_label.setStyleSheet("color: palette(placeholder-text);")
        self.candidate_label = QLabel("Candidate")
        controls.addWidget(self.candidate_label)
        controls.addWidget(self.candidate_combo, 1)
        controls.addWidget(QLabel("Show"))
        controls.addWidget(self.filter_combo, 2)
        controls.addWidget(self.count_label)
        layout.addLayout(controls)

        self.model = ExampleRowsModel()
        self.table = QTableView()
        self.table.setObjectName("examplesTable")
        self.table.setModel(self.model)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.selectionModel().selectionChanged.connect(self._show_selected)
        self.model.modelReset.connect(self._stretch_prompt_column)

        self.detail = QTextBrowser()
        self.detail.setObjectName("exampleDetail")
        self.detail.setOpenLinks(False)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setSizes([220, 360])
        layout.addWidget(splitter, 1)

        actions = QHBoxLayout()
        self.add_button = QPushButton("Add to training data")
        self.add_button.setToolTip(
            "Draft a training example from the selected failure (its prompt and the reference "
            "answer, or a placeholder for the ideal answer) in a new dataset version (Ctrl+D)"
        )
        self.add_button.setShortcut("Ctrl+D")
        self.add_all_button = QPushButton("Add all failures shown")
        self.add_all_button.setToolTip(
            "Draft a training example from every failure in the list, to review on the Dataset page"
        )
        self.add_button.clicked.connect(self.add_selected)
        self.add_all_button.clicked.connect(self.add_all_shown)
        hint = QLabel(
            "Reword the drafted prompts on the Dataset page so the eval set stays unseen."
        )
        hint.setStyleSheet("color: palette(placeholder-text);")
        hint.setWordWrap(True)
        actions.addWidget(self.add_button)
        actions.addWidget(self.add_all_button)
        actions.addWidget(hint, 1)
        layout.addLayout(actions)

        for key, letter in (("all", "A"), ("regressions", "R"), ("failures", "F")):
            shortcut = QShortcut(QKeySequence(f"Alt+{letter}"), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda k=key: self.set_filter(k))
        self.candidate_combo.currentIndexChanged.connect(self._refill)
        self.filter_combo.currentIndexChanged.connect(self._refill)
        self._update_buttons()

    # Data --------------------------------------------------------------------
    def set_results(self, results: Sequence[EvalResult]) -> None:
        self.results = list(results)
        self.candidate_combo.blockSignals(True)
        self.candidate_combo.clear()
        for number, result in enumerate(self.results[1:], start=1):
            self.candidate_combo.addItem(result.label, number)
        self.candidate_combo.setCurrentIndex(self.candidate_combo.count() - 1)
        self.candidate_combo.blockSignals(False)
        single = len(self.results) < 2
        self.candidate_combo.setVisible(not single)
        self.candidate_label.setVisible(not single)
        self._refill()

    @property
    def baseline(self) -> EvalResult | None:
        return self.results[0] if self.results else None

    @property
    def candidate(self) -> EvalResult | None:
        if len(self.results) < 2:
            return self.baseline
        return self.results[self.candidate_combo.currentData() or len(self.results) - 1]

    @property
    def single(self) -> bool:
        return len(self.results) < 2

    @property
    def current_filter(self) -> str:
        return self.filter_combo.currentData()

    def set_filter(self, show: str) -> None:
        self.filter_combo.setCurrentIndex(self.filter_combo.findData(show))

    def shown_rows(self) -> list[ExampleComparison]:
        return list(self.model.rows)

    def _refill(self) -> None:
        if not self.results:
            self.model.set_rows([], True)
            self.count_label.setText("")
            self.detail.setHtml("<p>No results yet.</p>")
            self._update_buttons()
            return
        everything = compare_examples(self.baseline, self.candidate, "all")
        shown = compare_examples(self.baseline, self.candidate, self.current_filter)
        self.all_rows = everything
        self.model.set_rows(shown, self.single)
        self.count_label.setText(f"{len(shown)} of {len(everything)}")
        for key, title in FILTER_TITLES.items():
            count = len(compare_examples(self.baseline, self.candidate, key))
            self.filter_combo.setItemText(self.filter_combo.findData(key), f"{title} ({count})")
        if shown:
            self.table.selectionModel().select(
                self.model.index(0, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )
        else:
            self.detail.setHtml(
                f"<p style='color:{status_color(MUTED)}'>No example matches this filter.</p>"
                if everything
                else ""
            )
        self._update_buttons()

    def _stretch_prompt_column(self) -> None:
        if self.model.columnCount() > 1:
            self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)

    # Selection and detail ----------------------------------------------------
    def selected_rows(self) -> list[ExampleComparison]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.rows[r] for r in rows]

    def select_row(self, row: int) -> None:
        self.table.selectRow(row)

    def _show_selected(self, *_args) -> None:
        rows = self.selected_rows()
        self.detail.setHtml(self.detail_html(rows[0]) if rows else "")
        self._update_buttons()

    def detail_html(self, row: ExampleComparison) -> str:
        example = row.example
        prompt = "\n".join(f"[{m['role']}] {m['content']}" for m in example.prompt)
        color = status_color(STATUS_KINDS.get(row.status, MUTED))
        title = f"Example {row.index + 1}"
        if not self.single:
            title += f" · <span style='color:{color}'>{escape(row.status)}</span>"
        parts = [f"<h3>{title}</h3>", "<p><b>Prompt</b></p>", plain_html(prompt)]
        if example.reference is not None:
            parts += ["<p><b>Reference answer</b></p>", plain_html(example.reference)]
        parts.append(self._answer_heading(self.baseline.label, row.passed_a, row.failed_checks_a))
        parts.append(plain_html(row.output_a.answer))
        if not self.single:
            parts.append(
                self._answer_heading(self.candidate.label, row.passed_b, row.failed_checks_b)
            )
            parts.append(diff_html(row.output_a.answer, row.output_b.answer))
            parts.append(
                f"<p style='color:{status_color(MUTED)}'>Compared with the baseline: "
                "<span style='background-color:#c9f2c9'>added</span>, "
                "<span style='background-color:#f8cccc; text-decoration:line-through'>"
                "removed</span>.</p>"
            )
        return "".join(parts)

    @staticmethod
    def _answer_heading(label: str, passed: bool | None, failures: list[str]) -> str:
        if passed is None:
            verdict = f"<span style='color:{status_color(MUTED)}'>not checked</span>"
        elif passed:
            verdict = f"<span style='color:{status_color(GOOD)}'>pass</span>"
        else:
            verdict = f"<span style='color:{status_color(BAD)}'>fail</span>"
        detail = (
            f"<br><span style='color:{status_color(BAD)}'>{escape('; '.join(_short(f) for f in failures))}</span>"
            if failures
            else ""
        )
        return f"<p><b>{escape(label)}</b> — {verdict}{detail}</p>"

    # Drafts -------------------------------------------------------------------
    @staticmethod
    def _is_failure(row: ExampleComparison) -> bool:
        return row.passed_b is False

    def drafts_for(self, rows: Sequence[ExampleComparison]) -> list[DraftExample]:
        name = self.baseline.eval_set.name if self.baseline else None
        return [
            draft_training_example(row.example, row.output_b.answer, eval_set_name=name)
            for row in rows
            if self._is_failure(row)
        ]

    def add_selected(self) -> None:
        drafts = self.drafts_for(self.selected_rows())
        if drafts:
            self.drafts_requested.emit(drafts)

    def add_all_shown(self) -> None:
        drafts = self.drafts_for(self.model.rows)
        if drafts:
            self.drafts_requested.emit(drafts)

    def _update_buttons(self) -> None:
        selected_failures = [r for r in self.selected_rows() if self._is_failure(r)]
        shown_failures = [r for r in self.model.rows if self._is_failure(r)]
        self.add_button.setEnabled(bool(selected_failures))
        self.add_all_button.setEnabled(bool(shown_failures))
        self.add_all_button.setText(
            f"Add all {len(shown_failures)} failures shown"
            if shown_failures
            else "Add all failures shown"
        )
