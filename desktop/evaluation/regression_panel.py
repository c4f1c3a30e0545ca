"""The general-capability probes of each candidate against the base model, with the
catastrophic-forgetting flag and the guide's advice when a category dropped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from PySide6.QtWidgets import QLabel, QTextBrowser, QVBoxLayout, QWidget

from core.evaluation.regression import DEFAULT_DROP_THRESHOLD, RegressionReport
from desktop.theme import BAD, GOOD, MUTED, WARNING, notice_style, status_color


def regression_html(reports: Sequence[RegressionReport]) -> str:
    """Each report: the verdict in words, then the pass rate per probe category."""
    parts = []
    for report in reports:
        style = notice_style(WARNING if report.forgetting else GOOD)
        flag = "Catastrophic forgetting" if report.forgetting else "No forgetting found"
        parts.append(
            f"<p><b>{escape(report.tuned_label)}</b> against <b>{escape(report.base_label)}</b>"
            f"</p><table width='100%' cellpadding='6'><tr><td style='{style}'><b>{flag}.</b> "
            f"{escape(report.message)}</td></tr></table>"
        )
        rows = "".join(
            f"<tr><td>{escape(c.category)}</td>"
            f"<td>{c.base.value:.0%} ({c.base.successes}/{c.base.n})</td>"
            f"<td>{c.tuned.value:.0%} ({c.tuned.successes}/{c.tuned.n})</td>"
            f"<td style='color:{status_color(BAD) if c.flagged else 'inherit'}'>"
            f"{c.delta * 100:+.0f} pts{' — dropped' if c.flagged else ''}</td>"
            f"<td>{c.p_value:.2g}</td></tr>"
            for c in report.categories
            if c.base.n
        )
        parts.append(
            "<table cellspacing='0' cellpadding='4' border='1' style='border-color:#ccc'>"
            f"<tr><th>Probes</th><th>{escape(report.base_label)}</th>"
            f"<th>{escape(report.tuned_label)}</th><th>Change</th><th>McNemar p</th></tr>"
            f"{rows}</table><br>"
        )
    return "".join(parts)


def forgetting_summary(report: RegressionReport) -> str:
    """One line of rich text: which probes dropped, from what to what."""
    dropped = ", ".join(
        f"{escape(c.category)} {c.base.value:.0%} → {c.tuned.value:.0%}"
        for c in report.categories
        if c.flagged
    )
    return (
        f"<b>Catastrophic forgetting in {escape(report.tuned_label)}:</b> general probes "
        f"dropped beyond {report.threshold:.0%} ({dropped})."
    )


class RegressionPanel(QWidget):
    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.intro = QLabel(
            "General-capability probes (arithmetic, instruction following, short facts, "
            f"format following) on the base model and each fine-tuned model. A drop of more "
            f"than {DEFAULT_DROP_THRESHOLD:.0%} in any category, significant at p < 0.05, is "
            "flagged as catastrophic forgetting."
        )
        self.intro.setWordWrap(True)
        self.intro.setStyleSheet("color: palette(placeholder-text);")
        self.browser = QTextBrowser()
        self.browser.setObjectName("regressionView")
        layout.addWidget(self.intro)
        layout.addWidget(self.browser, 1)
        self.reports: list[RegressionReport] = []
        self.set_reports([])

    @property
    def forgetting(self) -> bool:
        return any(report.forgetting for report in self.reports)

    def set_reports(self, reports: Sequence[RegressionReport], note: str = "") -> None:
        self.reports = list(reports)
        if self.reports:
            self.browser.setHtml(regression_html(self.reports))
        else:
            self.browser.setHtml(
                f"<p style='color:{status_color(MUTED)}'>"
                + escape(
                    note
                    or "No probes run for these results. Tick “Check for regressions” and "
                    "evaluate a fine-tuned model against the base to run them."
                )
                + "</p>"
            )
