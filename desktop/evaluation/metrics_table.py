"""The metrics of every evaluated model side by side, each candidate's change from the baseline
beside it, in plain words: better, worse, or not enough examples to tell."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from core.evaluation.intervals import mean_length_interval, perplexity_interval
from core.evaluation.metrics import METRIC_TITLES, MetricComparison, compare
from core.evaluation.results import EvalResult
from core.evaluation.statistics import BETTER, CANNOT_TELL, WORSE, Rate
from desktop.theme import BAD, GOOD, MUTED, status_color

HEADER_WIDTH = 24  # characters before a model name wraps in the column header
RATE_KEYS = {
    "format_compliance": "format_compliance",
    "accuracy": "accuracy",
    "refusal_rate": "refusal",
    "truncated_rate": "truncated",
}
METRIC_HELP = {
    "format_compliance": "Share of answers that pass every format check of their example "
    "(valid JSON, schema, regex, length, forbidden words).",
    "accuracy": "Share of answers that match the reference or the answer checks, where the "
    "example has something verifiable.",
    "perplexity": "How surprised the model is by the reference answers (lower: the model "
    "would write them more readily). Detects overfitting; says little about quality.",
    "mean_answer_tokens": "Average answer length in tokens. Neither direction is better in itself.",
    "refusal_rate": "Share of answers that decline the task (“I can't help with that”).",
    "truncated_rate": "Share of answers cut off at the length limit instead of ending on their own.",
}


@dataclass(frozen=True)
class Cell:
    text: str
    tooltip: str = ""
    color: str | None = None
    bold: bool = False


def _rate_cell(value: Rate) -> Cell:
    if not value.n:
        return Cell("not measured", "No example of the eval set checks this.", status_color(MUTED))
    return Cell(
        f"{value.value:.0%}  ({value.low:.0%}–{value.high:.0%})",
        f"{value.successes} of {value.n} examples; 95% Wilson confidence interval "
        f"{value.low:.1%} to {value.high:.1%}.",
    )


def _number_cell(value: float | None, interval, digits: str, unit: str) -> Cell:
    if value is None:
        return Cell("not measured", "The eval set has no reference answers.", status_color(MUTED))
    if interval is None:
        return Cell(f"{value:{digits}}")
    low, high = interval
    return Cell(
        f"{value:{digits}}  ({low:{digits}}–{high:{digits}})",
        f"{value:{digits}}{unit}; 95% bootstrap confidence interval {low:{digits}} to "
        f"{high:{digits}}.",
    )


def value_cell(result: EvalResult, key: str) -> Cell:
    metrics = result.metrics()
    if key in RATE_KEYS:
        return _rate_cell(getattr(metrics, RATE_KEYS[key]))
    if key == "perplexity":
        return _number_cell(metrics.perplexity, perplexity_interval(result.outputs), ".3g", "")
    if key == "mean_answer_tokens":
        return _number_cell(
            metrics.mean_answer_tokens, mean_length_interval(result.outputs), ".1f", " tokens"
        )
    raise KeyError(key)


def delta_cell(comparison: MetricComparison) -> Cell:
    if comparison.delta is None:
        return Cell("—", "Not measured on both models.", status_color(MUTED))
    if comparison.metric in RATE_KEYS:
        change = f"{comparison.delta * 100:+.1f} pts"
        interval = f"{comparison.ci_low * 100:+.1f} to {comparison.ci_high * 100:+.1f} points"
    else:
        unit = " tokens" if comparison.metric == "mean_answer_tokens" else ""
        change = f"{comparison.delta:+.3g}{unit}"
        interval = f"{comparison.ci_low:+.3g} to {comparison.ci_high:+.3g}"
    color = status_color({BETTER: GOOD, WORSE: BAD}.get(comparison.verdict, MUTED))
    p_value = "" if comparison.p_value is None else f", p = {comparison.p_value:.3g}"
    explanation = (
        "The difference is larger than chance would explain (p < 0.05)."
        if comparison.significant
        else "The difference could be chance on this many examples: evaluate on more "
        "examples (100-200 recommended) to tell."
    )
    return Cell(
        f"{change}\n{comparison.verdict}",
        f"95% CI of the change: {interval}. {comparison.test}{p_value}; "
        f"{comparison.n_paired} paired examples. {explanation}",
        color,
        bold=comparison.verdict in (BETTER, WORSE),
    )


@dataclass(frozen=True)
class MetricGrid:
    headers: list[str]
    header_tips: list[str]
    rows: list[list[Cell]]
    verdicts: list[str]  # one plain sentence per candidate


def build_grid(results: Sequence[EvalResult]) -> MetricGrid:
    """The table's cells; results[0] is the baseline."""
    if not results:
        return MetricGrid(["Metric"], [""], [], [])
    baseline = results[0]
    comparisons = [{c.metric: c for c in compare(baseline, r)} for r in results[1:]]
    headers, tips = ["Metric"], [""]
    for number, result in enumerate(results):
        headers.append(
            textwrap.fill(result.label, HEADER_WIDTH) + ("\n(baseline)" if number == 0 else "")
        )
        tips.append(_model_tip(result, number == 0))
        if number:
            headers.append("Change vs\nbaseline")
            tips.append(
                f"{result.label} minus {baseline.label}, paired on the same examples "
                "(McNemar for rates, paired bootstrap for perplexity and length)."
            )
    rows = []
    for key, (title, _) in METRIC_TITLES.items():
        row = [Cell(title, METRIC_HELP.get(key, ""), bold=True)]
        for number, result in enumerate(results):
            row.append(value_cell(result, key))
            if number:
                row.append(delta_cell(comparisons[number - 1][key]))
        rows.append(row)
    verdicts = [
        verdict_sentence(baseline.label, result.label, list(by_metric.values()))
        for result, by_metric in zip(results[1:], comparisons)
    ]
    return MetricGrid(headers, tips, rows, verdicts)


def _model_tip(result: EvalResult, is_baseline: bool) -> str:
    spec = result.spec
    parts = [f"{spec.kind} model {spec.base_model}"]
    if spec.adapter:
        parts.append(f"adapter {spec.adapter}")
    if spec.system_prompt:
        parts.append(f"system prompt: {spec.system_prompt[:200]}")
    if is_baseline:
        parts.append("The baseline every other model is compared with.")
    return "\n".join(parts)


def verdict_sentence(baseline: str, candidate: str, comparisons: list[MetricComparison]) -> str:
    """'run-1 against base: better on ...; worse on ...; not enough examples to tell on ...'."""
    groups: dict[str, list[str]] = {BETTER: [], WORSE: [], CANNOT_TELL: []}
    for c in comparisons:
        if c.higher_is_better is None or c.metric == "truncated_rate":
            continue  # length has no better direction; truncation is shown in the table
        if c.verdict in groups:
            groups[c.verdict].append(c.title.lower())
    parts = [f"{words} on {', '.join(names)}" for words, names in groups.items() if names]
    if not parts:
        return f"{candidate} against {baseline}: nothing could be compared."
    return f"{candidate} against {baseline}: " + "; ".join(parts) + "."


class MetricsTableModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.grid = build_grid([])

    def set_results(self, results: Sequence[EvalResult]) -> None:
        self.beginResetModel()
        self.grid = build_grid(results)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self.grid.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.grid.headers)

    def cell(self, row: int, column: int) -> Cell:
        return self.grid.rows[row][column]

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        cell = self.grid.rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return cell.text
        if role == Qt.ItemDataRole.ToolTipRole:
            return cell.tooltip or None
        if role == Qt.ItemDataRole.ForegroundRole and cell.color:
            return QBrush(QColor(cell.color))
        if role == Qt.ItemDataRole.FontRole and cell.bold:
            font = QFont()
            font.setBold(True)
            return font
        return None

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.grid.headers[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.grid.header_tips[section] or None
        return None


def metrics_view(model: MetricsTableModel) -> QTableView:
    view = QTableView()
    view.setObjectName("metricsTable")
    view.setModel(model)
    view.verticalHeader().hide()
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    view.setWordWrap(True)
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    model.modelReset.connect(
        lambda: (
            header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
            if model.columnCount()
            else None
        )
    )
    view.setAlternatingRowColors(True)
    return view
