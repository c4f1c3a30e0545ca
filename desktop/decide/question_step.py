"""One step of the Decide wizard: a question, why it is asked, and its options with their help."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QCheckBox,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.decide.answers import EXCLUSIVE_PROBLEMS
from core.decide.questions import Question

HELP_STYLE = "color: palette(placeholder-text);"


class QuestionStep(QWidget):
    """Radio buttons (one answer) or check boxes (tick all that apply) built from a Question."""

    changed = Signal()

    def __init__(self, question: Question, number: int, total: int) -> None:
        super().__init__()
        self.question = question
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)

        step = QLabel(f"Question {number} of {total} · {question.title}")
        step.setStyleSheet(HELP_STYLE + " font-size: 12px;")
        prompt = QLabel(question.prompt)
        prompt.setObjectName("questionPrompt")
        prompt.setWordWrap(True)
        prompt.setStyleSheet("font-size: 17px; font-weight: 600;")
        why = QLabel(question.help)
        why.setWordWrap(True)
        why.setStyleSheet(HELP_STYLE)
        layout.addWidget(step)
        layout.addWidget(prompt)
        layout.addWidget(why)
        layout.addSpacing(8)

        self.buttons: dict[object, QAbstractButton] = {}
        self._group = QButtonGroup(self)
        self._group.setExclusive(not question.multiple)
        for option in question.options:
            button = QCheckBox(option.label) if question.multiple else QRadioButton(option.label)
            button.setToolTip(option.help)
            button.setStyleSheet("font-weight: 500;")
            self._group.addButton(button)
            self.buttons[option.value] = button
            detail = QLabel(option.help)
            detail.setWordWrap(True)
            detail.setStyleSheet(HELP_STYLE + " margin-left: 24px; font-size: 12px;")
            detail.setToolTip(option.help)
            layout.addWidget(button)
            layout.addWidget(detail)
            layout.addSpacing(4)
            button.toggled.connect(lambda on, value=option.value: self._on_toggled(value, on))
        self.extra = QVBoxLayout()  # room for a step's own control (the expert hourly rate)
        layout.addLayout(self.extra)
        layout.addStretch(1)

    def _on_toggled(self, value: object, on: bool) -> None:
        if on and value in EXCLUSIVE_PROBLEMS:
            for other in EXCLUSIVE_PROBLEMS:
                if other != value and other in self.buttons:
                    self.buttons[other].setChecked(False)
        self.changed.emit()

    def value(self):
        """The answer: a tuple of values for tick-all, one value, or None while unanswered."""
        checked = [value for value, button in self.buttons.items() if button.isChecked()]
        if self.question.multiple:
            return tuple(checked) or None
        return checked[0] if checked else None

    def set_value(self, value) -> None:
        chosen = set(value) if self.question.multiple and value else {value}
        # An exclusive group cannot show "nothing checked" unless exclusivity is off meanwhile.
        self._group.setExclusive(False)
        for option_value, button in self.buttons.items():
            button.blockSignals(True)
            button.setChecked(value is not None and option_value in chosen)
            button.blockSignals(False)
        self._group.setExclusive(not self.question.multiple)
        self.changed.emit()

    def focus_first(self) -> None:
        checked = [b for b in self.buttons.values() if b.isChecked()]
        (checked or list(self.buttons.values()))[0].setFocus()
