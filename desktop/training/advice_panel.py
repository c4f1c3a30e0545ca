"""The advisor's messages as cards: what it noticed, at which step, and a button for what to do."""

from __future__ import annotations

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

from core.runs.records import Advice
from desktop.theme import severity_color

# Actions that act on the run itself, so they only make sense while it trains.
LIVE_ACTIONS = ("stop_keep_best",)


class AdviceCard(QFrame):
    def __init__(self, advice: Advice, on_action) -> None:
        super().__init__()
        self.advice = advice
        color = severity_color(advice.severity)
        self.setObjectName("adviceCard")
        self.setStyleSheet(
            f"QFrame#adviceCard {{ border-left: 4px solid {color}; "
            "background: palette(base); border-radius: 3px; }"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 8, 6)
        layout.setSpacing(3)
        where = f"step {advice.step}" if advice.step else "at the start"
        title = QLabel(f"<b>{advice.title}</b> · {where}")
        title.setStyleSheet(f"color: {color};")
        message = QLabel(advice.message)
        message.setWordWrap(True)
        message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # The action sits on the title row, so it is visible without scrolling the card.
        header = QHBoxLayout()
        header.addWidget(title)
        header.addStretch(1)
        self.button: QPushButton | None = None
        if advice.action and advice.action_label:
            self.button = QPushButton(advice.action_label)
            self.button.setObjectName(f"advice_{advice.action}")
            self.button.setToolTip(ACTION_TIPS.get(advice.action, advice.action_label))
            self.button.clicked.connect(lambda: on_action(advice))
            header.addWidget(self.button)
        layout.addLayout(header)
        layout.addWidget(message)


ACTION_TIPS = {
    "stop_keep_best": "Stop the run now; the final model is the checkpoint with the lowest "
    "validation loss.",
    "lower_learning_rate": "Stop the run and put the suggested learning rate in the settings "
    "for the next one.",
    "stop": "Put a lower learning rate in the settings for the next run.",
    "add_validation": "Hold out 10 % of the training examples for validation in the next run.",
    "evaluate_more_often": "Compute the validation loss more often in the next run.",
    "apply_settings": "Put settings that should fit in the form for the next run.",
}


class AdvicePanel(QScrollArea):
    """A scrolling list of AdviceCards, newest first; `action_requested(advice)` on a click."""

    action_requested = Signal(object)
    count_changed = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        self._layout = QVBoxLayout(body)
        self._layout.setContentsMargins(2, 2, 2, 2)
        self._layout.setSpacing(6)
        self.empty = QLabel(
            "The advisor watches the curves: overfitting, a learning rate that is too high, "
            "divergence and small datasets show up here, with what to do."
        )
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: palette(placeholder-text);")
        self._layout.addWidget(self.empty)
        self._layout.addStretch(1)
        self.setWidget(body)
        self.cards: list[AdviceCard] = []
        self._live = False

    def add(self, advice: Advice) -> AdviceCard:
        card = AdviceCard(advice, self.action_requested.emit)
        self._layout.insertWidget(1, card)  # below the (hidden) empty note, above older cards
        self.cards.append(card)
        self.empty.hide()
        self._enable(card)
        self.count_changed.emit(len(self.cards))
        return card

    def clear(self) -> None:
        for card in self.cards:
            card.deleteLater()
        self.cards.clear()
        self.empty.show()
        self.count_changed.emit(0)

    def set_run_live(self, live: bool) -> None:
        self._live = live
        for card in self.cards:
            self._enable(card)

    def _enable(self, card: AdviceCard) -> None:
        if card.button is not None and card.advice.action in LIVE_ACTIONS:
            card.button.setEnabled(self._live)
            card.button.setToolTip(
                ACTION_TIPS[card.advice.action]
                if self._live
                else "Only while the run trains; it has ended."
            )
