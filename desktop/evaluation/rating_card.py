"""One blind pair to rate: the prompt, answers A and B, scores 1-5 on each dimension, a pick.

Built for speed from the keyboard: 1-5 scores the highlighted line and moves to the
next, Up/Down choose the line, A, B or T pick, Enter or Right saves and moves on, Left
goes back. The buttons take no focus, so the keys always reach the card.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.evaluation.ab_pairs import (
    DIMENSION_HELP,
    DIMENSIONS,
    MAX_SCORE,
    MIN_SCORE,
    BlindPair,
    Rating,
)
from desktop.evaluation.answer_diff import plain_html
from desktop.theme import ACCENT

SIDES = ("A", "B")
# The cursor walks down answer A's dimensions, then answer B's.
CELLS = tuple((side, dimension) for side in SIDES for dimension in DIMENSIONS)
PICK_KEYS = {Qt.Key.Key_A: "A", Qt.Key.Key_B: "B", Qt.Key.Key_T: "tie"}
SCORE_KEYS = {getattr(Qt.Key, f"Key_{n}"): n for n in range(MIN_SCORE, MAX_SCORE + 1)}
KEYS_HINT = (
    "Keys: 1-5 score the highlighted line and move on · ↑/↓ choose the line · "
    "A, B or T pick the better answer · Enter or → save and next · ← back"
)
CURSOR_STYLE = f"background: {ACCENT}; color: white; border-radius: 3px; padding: 1px 4px;"
PICK_STYLE = f"QPushButton:checked {{ background: {ACCENT}; color: white; font-weight: 600; }}"


class RatingCard(QFrame):
    next_requested = Signal()
    back_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("ratingCard")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.pair: BlindPair | None = None
        self.scores: dict[str, dict[str, int]] = {"A": {}, "B": {}}
        self.pick: str | None = None
        self.cursor = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        self.prompt_view = QTextBrowser()
        self.prompt_view.setObjectName("pairPrompt")
        self.prompt_view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.prompt_view.setMaximumHeight(130)
        layout.addWidget(self.prompt_view)

        answers = QHBoxLayout()
        self.answer_views: dict[str, QTextBrowser] = {}
        self.cell_labels: dict[tuple[str, str], QLabel] = {}
        self.score_buttons: dict[tuple[str, str], dict[int, QPushButton]] = {}
        self._groups: list[QButtonGroup] = []
        for side in SIDES:
            answers.addWidget(self._answer_column(side), 1)
        layout.addLayout(answers, 1)

        picks = QHBoxLayout()
        picks.addStretch(1)
        self.pick_buttons: dict[str, QPushButton] = {}
        for pick, text in (
            ("A", "A is better  (A)"),
            ("tie", "Tie  (T)"),
            ("B", "B is better  (B)"),
        ):
            button = QPushButton(text)
            button.setCheckable(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setMinimumWidth(140)
            button.setStyleSheet(PICK_STYLE)
            button.clicked.connect(lambda _=False, p=pick: self.set_pick(p))
            self.pick_buttons[pick] = button
            picks.addWidget(button)
        picks.addStretch(1)
        layout.addLayout(picks)

        navigation = QHBoxLayout()
        self.back_button = QPushButton("← Back")
        self.back_button.setToolTip("The previous pair (Left arrow)")
        self.next_button = QPushButton("Save and next →")
        self.next_button.setToolTip("Save this rating and show the next pair (Enter or Right)")
        for button in (self.back_button, self.next_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.back_button.clicked.connect(self.back_requested)
        self.next_button.clicked.connect(self.next_requested)
        self.position_label = QLabel()
        self.position_label.setObjectName("pairPosition")
        self.position_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        navigation.addWidget(self.back_button)
        navigation.addWidget(self.position_label, 1)
        navigation.addWidget(self.next_button)
        layout.addLayout(navigation)
        self.message = QLabel(KEYS_HINT)
        self.message.setObjectName("ratingMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.message)
        self._show_cursor()

    def _answer_column(self, side: str) -> QWidget:
        column = QWidget()
        layout = QVBoxLayout(column)
        layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel(f"Answer {side}")
        title.setStyleSheet("font-weight: 600; font-size: 14px;")
        layout.addWidget(title)
        view = QTextBrowser()
        view.setObjectName(f"answer{side}")
        view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.answer_views[side] = view
        layout.addWidget(view, 1)
        grid = QGridLayout()
        grid.setHorizontalSpacing(4)
        grid.setVerticalSpacing(2)
        for row, dimension in enumerate(DIMENSIONS):
            label = QLabel(dimension.capitalize())
            label.setToolTip(DIMENSION_HELP[dimension])
            self.cell_labels[(side, dimension)] = label
            grid.addWidget(label, row, 0)
            group = QButtonGroup(self)
            group.setExclusive(False)  # a second click on the chosen score clears it
            self._groups.append(group)
            buttons = {}
            for value in range(MIN_SCORE, MAX_SCORE + 1):
                button = QPushButton(str(value))
                button.setCheckable(True)
                button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
                button.setFixedWidth(34)
                button.setStyleSheet(PICK_STYLE)
                button.setToolTip(f"{dimension} of answer {side}: {value} of {MAX_SCORE}")
                button.clicked.connect(
                    lambda checked, s=side, d=dimension, v=value: self.set_score(
                        s, d, v if checked else None
                    )
                )
                group.addButton(button)
                buttons[value] = button
                grid.addWidget(button, row, value)
            self.score_buttons[(side, dimension)] = buttons
        grid.setColumnStretch(MAX_SCORE + 1, 1)
        layout.addLayout(grid)
        return column

    # State -------------------------------------------------------------------
    def show_pair(self, pair: BlindPair | None, rating: Rating | None, position_text: str) -> None:
        self.pair = pair
        self.scores = {"A": {}, "B": {}}
        self.pick = None
        if rating is not None:
            self.pick = rating.pick
            for side in SIDES:
                self.scores[side] = {
                    d: v for d, v in (rating.scores.get(side) or {}).items() if v is not None
                }
        self.cursor = 0
        if pair is None:
            self.prompt_view.setHtml("")
            for view in self.answer_views.values():
                view.setHtml("")
        else:
            prompt = "\n".join(f"[{m['role']}] {m['content']}" for m in pair.prompt)
            html = "<p><b>Prompt</b></p>" + plain_html(prompt)
            if pair.reference:
                html += "<p><b>Reference answer</b></p>" + plain_html(pair.reference)
            self.prompt_view.setHtml(html)
            self.answer_views["A"].setHtml(plain_html(pair.answer_a))
            self.answer_views["B"].setHtml(plain_html(pair.answer_b))
        self.position_label.setText(position_text)
        self.message.setText(KEYS_HINT)
        self.setEnabled(pair is not None)
        self._sync_buttons()
        self._show_cursor()

    def set_score(self, side: str, dimension: str, value: int | None) -> None:
        if value is None:
            self.scores[side].pop(dimension, None)
        else:
            self.scores[side][dimension] = value
        self._sync_buttons()

    def set_pick(self, pick: str | None) -> None:
        self.pick = pick
        self._sync_buttons()

    def rating(self) -> Rating:
        scores = {side: dict(values) for side, values in self.scores.items() if values}
        return Rating(self.pick, scores)

    def say(self, text: str) -> None:
        self.message.setText(text)

    def _sync_buttons(self) -> None:
        for (side, dimension), buttons in self.score_buttons.items():
            chosen = self.scores[side].get(dimension)
            for value, button in buttons.items():
                button.setChecked(value == chosen)
        for pick, button in self.pick_buttons.items():
            button.setChecked(pick == self.pick)

    def _show_cursor(self) -> None:
        for number, cell in enumerate(CELLS):
            label = self.cell_labels[cell]
            label.setStyleSheet(CURSOR_STYLE if number == self.cursor else "")

    @property
    def cursor_cell(self) -> tuple[str, str]:
        return CELLS[self.cursor]

    def move_cursor(self, step: int) -> None:
        self.cursor = (self.cursor + step) % len(CELLS)
        self._show_cursor()

    # Keys ----------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if self.pair is None or event.modifiers() & (
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
        ):
            super().keyPressEvent(event)
            return
        if key in PICK_KEYS:
            self.set_pick(PICK_KEYS[key])
        elif key in SCORE_KEYS:
            side, dimension = self.cursor_cell
            self.set_score(side, dimension, SCORE_KEYS[key])
            if self.cursor < len(CELLS) - 1:
                self.move_cursor(1)
        elif key in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete):
            self.set_score(*self.cursor_cell, None)
        elif key == Qt.Key.Key_Down:
            self.move_cursor(1)
        elif key == Qt.Key.Key_Up:
            self.move_cursor(-1)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Right):
            self.next_requested.emit()
        elif key == Qt.Key.Key_Left:
            self.back_requested.emit()
        else:
            super().keyPressEvent(event)
            return
        event.accept()
