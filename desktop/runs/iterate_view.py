"""The Iterate tab: the project's loop as a timeline (baseline, v1, v2, ...) with each
step's data version, run and eval, what changed between steps, and the two actions that
close the loop: draft new examples from a run's failures, and train the next run."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from core.figures import loss_text
from core.history.evals import summary_text
from core.history.iterate import IterationStep

GUIDE_HINT = (
    "The first model is never the last: budget 3-5 iterations. Evaluate each run, turn its "
    "failures into better training examples, and train again with the same settings, so "
    "the data is the one thing that changes."
)


class StepCard(QFrame):
    draft_requested = Signal(str)  # run_id
    train_next_requested = Signal(str, int)  # like run_id, dataset version id

    def __init__(self, step: IterationStep, parent=None) -> None:
        super().__init__(parent)
        self.step = step
        self.setObjectName("stepCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "QFrame#stepCard { border: 1px solid palette(mid); border-radius: 8px; }"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        title = QLabel(f"<span style='font-size:15px; font-weight:600'>{escape(step.title)}</span>")
        layout.addWidget(title)
        self.body = QLabel(self._body_html())
        self.body.setWordWrap(True)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.body)
        buttons = QHBoxLayout()
        self.draft_button = QPushButton("Draft examples from failures…")
        self.draft_button.setToolTip(
            "Open the dataset editor on a new version of this run's data, with the examples "
            "this run failed added as drafts to review"
        )
        self.draft_button.setVisible(step.can_draft)
        if step.chosen is not None:
            self.draft_button.clicked.connect(lambda: self.draft_requested.emit(step.chosen.run_id))
        self.train_button = QPushButton("Train next with the same settings")
        like = step.train_like
        self.train_button.setToolTip(
            f"Train on {step.version.label} with the settings of '{like.name}'"
            if step.can_train_next and like is not None and step.version is not None
            else ""
        )
        self.train_button.setVisible(step.can_train_next)
        if step.can_train_next and like is not None and step.version is not None:
            self.train_button.clicked.connect(
                lambda: self.train_next_requested.emit(like.run_id, step.version.id)
            )
        buttons.addWidget(self.draft_button)
        buttons.addWidget(self.train_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)

    def _body_html(self) -> str:
        step = self.step
        lines = []
        if step.kind == "baseline":
            if step.eval is None:
                lines.append(
                    "The base model with your best prompt has not been evaluated yet. Measure "
                    "it on the Evaluate page first: every run is judged against it."
                )
            else:
                lines.append(
                    f"<b>Eval</b>: {escape(step.eval.label)} on "
                    f"'{escape(step.eval.eval_set_name)}': {escape(summary_text(step.eval))}"
                )
            return "<br>".join(lines)
        if step.version is not None:
            note = f" — {escape(step.version.note)}" if step.version.note else ""
            lines.append(
                f"<b>Data</b>: {escape(step.version.label)}, {step.version.n_examples} examples{note}"
            )
        if step.chosen is None:
            lines.append("<b>Run</b>: not trained yet")
        else:
            run = step.chosen
            others = f" (best of {len(step.runs)} runs)" if len(step.runs) > 1 else ""
            lines.append(
                f"<b>Run</b>: {escape(run.name)}{others}, {escape(run.status)}, best validation "
                f"loss {loss_text(run.best_val_loss)}"
            )
            lines.append(
                "<b>Eval</b>: "
                + (escape(summary_text(step.eval)) if step.eval else "not evaluated yet")
            )
        if step.changes:
            items = "".join(f"<li>{escape(change)}</li>" for change in step.changes)
            lines.append(
                f"<b>Changed since the previous step</b>:<ul style='margin:0'>{items}</ul>"
            )
        return "<br>".join(lines)


class IterateView(QWidget):
    draft_requested = Signal(str)
    train_next_requested = Signal(str, int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.cards: list[StepCard] = []
        hint = QLabel(GUIDE_HINT)
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(placeholder-text);")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.hide()
        self.column = QVBoxLayout()
        self.column.setSpacing(6)
        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        inner_layout.addLayout(self.column)
        inner_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(inner)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(hint)
        layout.addWidget(self.status)
        layout.addWidget(scroll, 1)

    def show_steps(self, steps: list[IterationStep]) -> None:
        while self.column.count():
            item = self.column.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.cards = []
        for position, step in enumerate(steps):
            if position:
                arrow = QLabel("↓")
                arrow.setAlignment(Qt.AlignmentFlag.AlignHCenter)
                arrow.setStyleSheet("color: palette(placeholder-text); font-size: 16px;")
                self.column.addWidget(arrow)
            card = StepCard(step)
            card.draft_requested.connect(self.draft_requested)
            card.train_next_requested.connect(self.train_next_requested)
            self.column.addWidget(card)
            self.cards.append(card)

    def show_message(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))
