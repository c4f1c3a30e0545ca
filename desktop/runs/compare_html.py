"""The Compare view's text panels as HTML: settings diff, data diff, eval results side by side."""

from __future__ import annotations

from html import escape

from core.figures import count_text
from core.history.compare import DatasetDiff
from core.history.config_text import ConfigDiff
from core.history.evals import EvalComparison, format_metric
from desktop.theme import BAD, GOOD, MUTED, status_color

TABLE = '<table cellspacing="0" cellpadding="4" style="border-collapse: collapse;">'
OLD, NEW = status_color(BAD), status_color(GOOD)
VERDICT_COLORS = {
    "better": NEW,
    "worse": OLD,
    "shorter": status_color(MUTED),
    "longer": status_color(MUTED),
}


def verdict_color(verdict: str) -> str:
    return VERDICT_COLORS.get(verdict, status_color(MUTED))


def _header(cells: list[str]) -> str:
    return "<tr>" + "".join(f"<th align='left'>{escape(c)}</th>" for c in cells) + "</tr>"


def settings_html(diff: ConfigDiff, names: list[str]) -> str:
    if diff.is_empty:
        return "<p>These runs used the same settings (names aside).</p>"
    rows = [_header(["Setting", *names])]
    for item in diff.differences:
        first = item.values[0]
        cells = [f"<td><b>{escape(item.key)}</b></td>"]
        for position, value in enumerate(item.values):
            color = OLD if position == 0 else (NEW if value != first else "")
            style = f" style='color:{color}'" if color else ""
            cells.append(f"<td{style}>{escape(value or '—')}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    unified = ""
    if diff.unified:
        lines = []
        for line in diff.unified:
            color = (
                NEW
                if line.startswith("+")
                else OLD
                if line.startswith("-")
                else status_color(MUTED)
            )
            if line.startswith(("+++", "---", "@@")):
                color = status_color(MUTED)
            lines.append(f"<span style='color:{color}'>{escape(line)}</span>")
        unified = (
            "<p><b>As a diff</b> (first two runs)</p><pre style='font-family: monospace'>"
            + "\n".join(lines)
            + "</pre>"
        )
    return (
        f"<p>{count_text(len(diff.differences), 'setting')} "
        f"{'differs' if len(diff.differences) == 1 else 'differ'}; the first run's values are red, "
        "others' differing values green.</p>" + TABLE + "".join(rows) + "</table>" + unified
    )


def datasets_html(diffs: list[DatasetDiff]) -> str:
    if not diffs:
        return "<p>Select two or more runs.</p>"
    parts = []
    for diff in diffs:
        title = f"{escape(diff.from_label or '—')} → {escape(diff.to_label or '—')}"
        parts.append(f"<p><b>{title}</b>: {escape(diff.summary)}</p>")
        for words, ids, total in (
            ("Added", diff.added_ids, diff.added),
            ("Removed", diff.removed_ids, diff.removed),
            ("Changed", diff.changed_ids, diff.changed),
        ):
            if ids:
                more = f" and {total - len(ids)} more" if total > len(ids) else ""
                parts.append(
                    f"<p style='margin-left:12px'>{words}: {escape(', '.join(ids))}{more}</p>"
                )
    return "".join(parts)


def evals_html(comparison: EvalComparison | None) -> str:
    if comparison is None:
        return "<p>Loading…</p>"
    if comparison.problem:
        return f"<p>{escape(comparison.problem)}</p>"
    rows = [_header(["Metric", *comparison.columns])]
    for row in comparison.rows:
        cells = [f"<td>{escape(row.title)}</td>"]
        for value, versus in zip(row.values, row.versus):
            text = escape(format_metric(row.key, value))
            if versus is not None and versus.p_value is not None:
                color = verdict_color(versus.verdict)
                text += (
                    f"<br><span style='color:{color}'>{escape(versus.verdict)}</span>"
                    f" <span style='color:{status_color(MUTED)}'>p={versus.p_value:.3g}</span>"
                )
            cells.append(f"<td valign='top'>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<p>Eval set <b>{escape(comparison.eval_set_name)}</b>, each model against "
        f"<b>{escape(comparison.reference)}</b> on the same examples (McNemar for pass/fail, "
        "paired bootstrap for scores; 'better' or 'worse' only when p &lt; 0.05).</p>"
        + TABLE
        + "".join(rows)
        + "</table>"
    )
