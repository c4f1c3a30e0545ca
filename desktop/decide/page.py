"""The Decide page: a five-question wizard from the fine-tuning guide, then its recommendation.

Answers are saved in the project when the recommendation is shown, reloaded when the
project opens or changes, and kept as history. When fine-tuning is advised, the answers
(task kind, data size, LoRA rank) carry over to the Estimate page.
"""

from __future__ import annotations

from dataclasses import fields

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.decide import (
    Answers,
    AnswersError,
    Decision,
    DecisionDataError,
    decision_history,
    estimate_handoff,
    load_decision,
    save_decision,
)
from core.decide.guide import DEFAULT_EXPERT_RATE_USD
from core.decide.questions import QUESTIONS
from core.decide.recommend import OUTCOME_TITLES
from core.decide.report import recommendation_text
from desktop.context import AppContext
from desktop.decide.question_step import QuestionStep
from desktop.decide.recommendation_card import RecommendationCard
from desktop.theme import ACCENT, BAD, notice_style

RESULT_STEP = len(QUESTIONS)
RATE_HELP = {f.name: f.metadata["help"] for f in fields(Answers)}["expert_hourly_rate_usd"]


def create_page(context: AppContext) -> QWidget:
    return DecidePage(context)


class DecidePage(QWidget):
    """The questions and the card scroll; Back/Next sit below them, always in view."""

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.decision: Decision | None = None  # the one the card shows
        self.scroll_area = QScrollArea()
        self.scroll_area.setObjectName("decideScroll")
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QScrollArea.Shape.NoFrame)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(28, 22, 28, 12)
        layout.setSpacing(12)

        title = QLabel("Should you fine-tune?")
        title.setStyleSheet("font-size: 22px; font-weight: 600;")
        subtitle = QLabel(
            "Prompting, retrieval (RAG) or fine-tuning: five questions from the fine-tuning "
            "guide, then a recommendation with its reasons, risks, the data it needs and what "
            "the whole project costs. Answers are saved in this project."
        )
        subtitle.setWordWrap(True)
        subtitle.setStyleSheet("color: palette(placeholder-text);")
        self.error_banner = QLabel()
        self.error_banner.setObjectName("errorBanner")
        self.error_banner.setWordWrap(True)
        self.error_banner.setStyleSheet(notice_style(BAD))
        self.error_banner.hide()
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addWidget(self.error_banner)
        layout.addLayout(self._step_bar())

        self.stack = QStackedWidget()
        self.steps = [
            QuestionStep(question, number, len(QUESTIONS))
            for number, question in enumerate(QUESTIONS, start=1)
        ]
        for step in self.steps:
            step.changed.connect(self._update_controls)
            self.stack.addWidget(step)
        self._add_rate_control(self.steps[3])
        self.stack.addWidget(self._result_view())
        layout.addWidget(self.stack, 1)
        self.scroll_area.setWidget(body)

        self.navigation = QWidget()
        self.navigation.setObjectName("decideNavigation")
        navigation = self._navigation_row()
        navigation.setContentsMargins(28, 8, 28, 14)
        self.navigation.setLayout(navigation)
        page = QVBoxLayout(self)
        page.setContentsMargins(0, 0, 0, 0)
        page.setSpacing(0)
        page.addWidget(self.scroll_area, 1)
        page.addWidget(self.navigation)

        context.project_changed.connect(self.set_project)
        self.set_project(context.project)

    # Building ----------------------------------------------------------------------------
    def _step_bar(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(4)
        self.step_buttons: list[QPushButton] = []
        titles = [q.title for q in QUESTIONS] + ["Recommendation"]
        for index, text in enumerate(titles):
            button = QPushButton(f"{index + 1}. {text}" if index < RESULT_STEP else text)
            button.setCheckable(True)
            button.setFlat(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Back/Next and Alt+arrows instead
            button.setStyleSheet(
                "QPushButton { padding: 4px 10px; border-radius: 12px; }"
                f"QPushButton:checked {{ background: {ACCENT}; color: white; }}"
            )
            button.clicked.connect(lambda _=False, i=index: self.go_to_step(i))
            row.addWidget(button)
            self.step_buttons.append(button)
        row.addStretch(1)
        return row

    def _add_rate_control(self, step: QuestionStep) -> None:
        self.rate = QDoubleSpinBox()
        self.rate.setRange(0, 10_000)
        self.rate.setDecimals(0)
        self.rate.setSingleStep(5)
        self.rate.setPrefix("$")
        self.rate.setSuffix(" an hour")
        self.rate.setValue(DEFAULT_EXPERT_RATE_USD)
        self.rate.setToolTip(RATE_HELP)
        self.rate.setMaximumWidth(160)
        form = QFormLayout()
        label = QLabel("An hour of your experts' time costs")
        label.setToolTip(RATE_HELP)
        label.setBuddy(self.rate)
        form.addRow(label, self.rate)
        step.extra.addSpacing(8)
        step.extra.addLayout(form)

    def _result_view(self) -> QWidget:
        view = QWidget()
        layout = QVBoxLayout(view)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        history = QHBoxLayout()
        history_label = QLabel("Saved decisions:")
        self.history = QComboBox()
        self.history.setToolTip(
            "Every time you change your answers the earlier ones are kept; pick one to see it"
        )
        self.history.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        history_label.setBuddy(self.history)
        self.history.activated.connect(self._on_history_chosen)
        self.use_this_button = QPushButton("Use this decision")
        self.use_this_button.setToolTip("Save these earlier answers as the project's decision")
        self.use_this_button.clicked.connect(self._use_shown_decision)
        history.addWidget(history_label)
        history.addWidget(self.history)
        history.addWidget(self.use_this_button)
        history.addStretch(1)
        layout.addLayout(history)

        self.card = RecommendationCard()
        layout.addWidget(self.card)

        # The card's actions sit in the navigation bar below (always in view), not here.
        self.estimate_button = QPushButton("Estimate memory and cost")
        self.estimate_button.setToolTip(
            "Open the Estimate page with this task's kind, data size and LoRA rank filled in: "
            "memory, time and cost of full fine-tuning, LoRA and QLoRA on your GPU"
        )
        self.estimate_button.setStyleSheet(
            f"QPushButton {{ background: {ACCENT}; color: white; padding: 6px 14px;"
            "border-radius: 6px; font-weight: 600; }"
        )
        self.estimate_button.clicked.connect(self.open_estimate)
        self.change_button = QPushButton("Change answers")
        self.change_button.setToolTip("Go back to the first question (your answers stay filled in)")
        self.change_button.clicked.connect(lambda: self.go_to_step(0))
        self.copy_button = QPushButton("Copy as text")
        self.copy_button.setToolTip("Copy the whole recommendation, to paste into a plan or ticket")
        self.copy_button.clicked.connect(self.copy_as_text)
        layout.addStretch(1)
        return view

    def _navigation_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.back_button = QPushButton("← Back")
        self.back_button.setToolTip("Previous question (Alt+Left)")
        self.back_button.clicked.connect(self.go_back)
        self.next_button = QPushButton("Next →")
        self.next_button.setToolTip("Next question (Alt+Right or Enter)")
        self.next_button.clicked.connect(self.go_next)
        self.hint = QLabel()
        self.hint.setStyleSheet("color: palette(placeholder-text);")
        row.addWidget(self.back_button)
        for button in (self.estimate_button, self.change_button, self.copy_button):
            row.addWidget(button)  # shown on the recommendation only
        row.addStretch(1)
        row.addWidget(self.hint)
        row.addWidget(self.next_button)
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for keys, slot in (
            ("Alt+Left", self.go_back),
            ("Alt+Right", self.go_next),
            ("Return", self.go_next),
            ("Enter", self.go_next),
        ):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(context)
            shortcut.activated.connect(slot)
        return row

    # Wizard ------------------------------------------------------------------------------
    @property
    def current_step(self) -> int:
        return self.stack.currentIndex()

    def _answered(self, index: int) -> bool:
        return self.steps[index].value() is not None

    def _reachable(self, index: int) -> bool:
        return all(self._answered(i) for i in range(min(index, RESULT_STEP)))

    def go_to_step(self, index: int) -> None:
        if index == RESULT_STEP and not self._decision_matches_answers():
            self.finish()  # never show a recommendation made for other answers
            return
        if not self._reachable(index):
            self._update_controls()
            return
        self.stack.setCurrentIndex(index)
        if index < RESULT_STEP:
            self.steps[index].focus_first()
        self._scroll_to_top()
        self._update_controls()

    def _decision_matches_answers(self) -> bool:
        if self.decision is None:
            return False
        try:
            return self.decision.answers == self.answers()
        except AnswersError:  # a question is still unanswered
            return False

    def _scroll_to_top(self) -> None:
        self.scroll_area.verticalScrollBar().setValue(0)

    def go_next(self) -> None:
        step = self.current_step
        if step >= RESULT_STEP or not self._answered(step):
            return
        if step == RESULT_STEP - 1:
            self.finish()
        else:
            self.go_to_step(step + 1)

    def go_back(self) -> None:
        if self.current_step > 0:
            self.go_to_step(self.current_step - 1)

    def answers(self) -> Answers:
        values = {step.question.key: step.value() for step in self.steps}
        return Answers(**values, expert_hourly_rate_usd=self.rate.value())

    def finish(self) -> None:
        """Save the answers and show the recommendation."""
        if not self._reachable(RESULT_STEP):
            return
        try:
            decision = save_decision(self.context.project, self.answers())
        except AnswersError as error:  # the widgets prevent this; say so rather than crash
            self._show_error(f"These answers cannot be used: {error}")
            return
        self.error_banner.hide()  # a damaged earlier decision no longer matters
        self._show_decision(decision)
        self._refresh_history()
        self.context.show_status(f"Decision saved: {decision.recommendation.title}")

    def _update_controls(self) -> None:
        step = self.current_step
        for index, button in enumerate(self.step_buttons):
            button.setChecked(index == step)
            button.setEnabled(self._reachable(index))
        on_result = step == RESULT_STEP
        self.back_button.setEnabled(step > 0)
        # The recommendation has "Change answers" instead; Alt+Left still goes back a question.
        for widget in (self.back_button, self.next_button, self.hint):
            widget.setVisible(not on_result)
        self.change_button.setVisible(on_result)
        self.copy_button.setVisible(on_result)
        self.estimate_button.setVisible(on_result and self._estimate_offered())
        if not on_result:
            answered = self._answered(step)
            self.next_button.setEnabled(answered)
            last = step == RESULT_STEP - 1
            self.next_button.setText("See recommendation →" if last else "Next →")
            multiple = self.steps[step].question.multiple
            self.hint.setText(
                "" if answered else ("Tick at least one" if multiple else "Choose an answer")
            )

    # Decisions ---------------------------------------------------------------------------
    def can_close(self) -> bool:
        return True  # no background work; unfinished answers were never saved before either

    def receive(self, _handoff) -> None:
        """No page hands anything to this one; navigating here only shows it."""

    def set_project(self, project) -> None:
        """Show the project's latest decision, or an empty wizard if it has none."""
        self.error_banner.hide()
        try:
            decision = load_decision(project)
        except DecisionDataError as error:
            self._show_error(str(error))
            decision = None
        self._refresh_history()
        if decision is None:
            self.decision = None
            for step in self.steps:
                step.set_value(None)
            self.rate.setValue(DEFAULT_EXPERT_RATE_USD)
            self.stack.setCurrentIndex(0)
            self._scroll_to_top()
            self._update_controls()
        else:
            self._show_decision(decision)

    def _show_decision(self, decision: Decision) -> None:
        self.decision = decision
        for step in self.steps:
            step.set_value(getattr(decision.answers, step.question.key))
        self.rate.setValue(decision.answers.expert_hourly_rate_usd)
        self.card.show_recommendation(decision.recommendation)
        self.stack.setCurrentIndex(RESULT_STEP)
        self._scroll_to_top()
        self._select_in_history(decision.id)
        self._update_controls()

    def _estimate_offered(self) -> bool:
        return self.decision is not None and self.decision.recommendation.fine_tuning_advised

    def _show_error(self, text: str) -> None:
        self.error_banner.setText(text)
        self.error_banner.show()

    def _refresh_history(self) -> None:
        self.history.clear()
        for number, entry in enumerate(decision_history(self.context.project)):
            when = entry.saved_at[:16].replace("T", " ")
            latest = " (current)" if number == 0 else ""
            title = OUTCOME_TITLES.get(entry.outcome, entry.outcome)
            self.history.addItem(f"{when} UTC · {title}{latest}", entry.id)

    def _select_in_history(self, decision_id: int) -> None:
        index = self.history.findData(decision_id)
        if index >= 0:
            self.history.setCurrentIndex(index)
        self.use_this_button.setVisible(index > 0)

    def _on_history_chosen(self, index: int) -> None:
        decision_id = self.history.itemData(index)
        try:
            decision = load_decision(self.context.project, decision_id)
        except DecisionDataError as error:
            self._show_error(str(error))
            return
        if decision is not None:
            self._show_decision(decision)

    def _use_shown_decision(self) -> None:
        if self.decision is not None:
            self._show_decision(save_decision(self.context.project, self.decision.answers))
            self._refresh_history()
            self._select_in_history(self.decision.id)

    # Actions -----------------------------------------------------------------------------
    def open_estimate(self) -> None:
        payload = estimate_handoff(self.decision) if self.decision else None
        if payload is not None:
            self.context.navigate("estimate", payload)

    def copy_as_text(self) -> None:
        if self.decision is not None:
            QApplication.clipboard().setText(recommendation_text(self.decision.recommendation))
            self.context.show_status("Recommendation copied")
