"""The recommendation card: what to do, why, the risks, the data needed and the whole cost."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from core.decide.cost import format_usd_range
from core.decide.recommend import (
    FINE_TUNING,
    FINE_TUNING_AND_RAG,
    MORE_CAPABLE_MODEL,
    PROMPT_ENGINEERING,
    RAG,
    Recommendation,
)

OUTCOME_COLORS = {
    PROMPT_ENGINEERING: "#2e8b57",
    RAG: "#1f7a8c",
    FINE_TUNING: "#3b6fd8",
    FINE_TUNING_AND_RAG: "#6a4fc9",
    MORE_CAPABLE_MODEL: "#c0392b",
}
MUTED = "color: palette(placeholder-text);"


def _label(text: str = "", style: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    if style:
        label.setStyleSheet(style)
    return label


def _bullets(items, ordered: bool = False) -> str:
    tag = "ol" if ordered else "ul"
    body = "".join(f"<li style='margin-bottom:4px'>{escape(item)}</li>" for item in items)
    return f"<{tag} style='margin-left:-22px'>{body}</{tag}>"


class Section(QFrame):
    """A titled block of the card."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.setObjectName("cardSection")
        self.setStyleSheet(
            "QFrame#cardSection { border: 1px solid palette(mid); border-radius: 8px; }"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        heading = QLabel(title)
        heading.setStyleSheet("font-weight: 600; font-size: 14px; border: none;")
        self.body = _label(style="border: none;")
        layout.addWidget(heading)
        layout.addWidget(self.body)
        layout.addStretch(1)  # keep the text at the top when the neighbour section is taller


class RecommendationCard(QWidget):
    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        self.badge = QLabel()
        self.badge.setObjectName("outcomeBadge")
        self.headline = _label(style="font-size: 20px; font-weight: 600;")
        self.headline.setObjectName("headline")
        self.summary = _label(style="font-size: 14px;")
        layout.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.headline)
        layout.addWidget(self.summary)

        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(12)
        self.why = Section("Why")
        self.steps = Section("Next steps")
        self.risks = Section("Risks")
        self.data = Section("Data needed")
        self.cost = Section("Expected project cost")
        self.cost.setToolTip(
            "The whole project, not only GPU hours: expert time for the data and the "
            "evaluation, and the training runs of 3-5 iterations (figures from the guide)."
        )
        grid.addWidget(self.why, 0, 0)
        grid.addWidget(self.steps, 1, 0)
        grid.addWidget(self.risks, 0, 1)
        grid.addWidget(self.data, 1, 1)
        grid.addWidget(self.cost, 2, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)

    def show_recommendation(self, r: Recommendation) -> None:
        color = OUTCOME_COLORS[r.outcome]
        self.badge.setText(f"  Recommended: {r.title}  ")
        self.badge.setStyleSheet(
            f"background: {color}; color: white; border-radius: 10px; padding: 3px 6px;"
            "font-weight: 600;"
        )
        self.headline.setText(escape(r.headline))
        self.summary.setText(escape(r.summary))
        self.why.body.setText(_bullets(r.reasons))
        self.steps.body.setText(_bullets(r.next_steps, ordered=True))
        if r.risks:
            self.risks.body.setText(
                "".join(
                    f"<p><b>{escape(risk.title)}.</b> {escape(risk.text)}</p>" for risk in r.risks
                )
            )
        else:
            self.risks.body.setText(
                f"<span style='{MUTED}'>None of the fine-tuning risks (forgetting, a small or "
                "biased dataset, frozen knowledge) apply: nothing is trained.</span>"
            )
        examples = ""
        if r.data.examples:
            low, high = r.data.examples
            examples = f"<p style='font-size:16px'><b>{low:,}-{high:,} training examples</b></p>"
        self.data.body.setText(examples + f"<p>{escape(r.data.text)}</p>")
        self.cost.body.setText(self._cost_html(r))

    @staticmethod
    def _cost_html(r: Recommendation) -> str:
        cost = r.cost
        rows = "".join(
            f"<tr><td style='padding:2px 12px 2px 0'><b>{escape(line.label)}</b></td>"
            f"<td style='padding:2px 12px 2px 0' align='right'>"
            f"{format_usd_range(line.low_usd, line.high_usd)}</td>"
            f"<td style='padding:2px 0; {MUTED}'>{escape(line.detail)}</td></tr>"
            for line in cost.lines
        )
        notes = "".join(f"<p style='{MUTED}'>{escape(note)}</p>" for note in cost.notes)
        total = format_usd_range(cost.low_usd, cost.high_usd)
        return (
            f"<p style='font-size:16px'><b>{total}</b> in total</p>"
            f"<table cellspacing='0'>{rows}</table>{notes}"
        )

    def text(self) -> str:
        """Everything the card says, for tests and for copying."""
        parts = [self.badge.text(), self.headline.text(), self.summary.text()]
        for section in (self.why, self.risks, self.data, self.cost, self.steps):
            parts.append(section.body.text())
        return "\n".join(parts)
