"""The Decide page, driven as a user would: answer, read the card, reopen, switch projects."""

from __future__ import annotations

import dataclasses
import json

import pytest
from PySide6.QtCore import Qt

from core.decide import Answers, load_decision, save_decision
from core.handoff import DecisionForEstimate
from core.hardware import HardwareInfo
from core.project import create_project
from desktop.context import AppContext
from desktop.decide.page import RESULT_STEP, DecidePage


@pytest.fixture
def context(project):
    return AppContext(project, HardwareInfo(cpu_cores=2))


def open_page(qtbot, context) -> DecidePage:
    page = DecidePage(context)
    qtbot.addWidget(page)
    page.resize(1100, 800)
    page.show()
    page.activateWindow()  # keyboard shortcuts work only in the active window
    qtbot.waitUntil(page.isActiveWindow, timeout=2000)
    return page


def tick(page, step, *values):
    assert page.current_step == step
    for value in values:
        page.steps[step].buttons[value].click()


def test_fine_tuning_path_saves_explains_hands_off_and_reopens(qtbot, context):
    page = open_page(qtbot, context)
    assert page.current_step == 0 and not page.next_button.isEnabled()
    assert page.hint.text() == "Tick at least one"
    assert not page.back_button.isEnabled()

    # Simple and complex format exclude each other.
    tick(page, 0, "format_simple", "format_complex")
    assert not page.steps[0].buttons["format_simple"].isChecked()
    tick(page, 0, "format_complex", "domain_reasoning", "knowledge_missing")
    assert set(page.steps[0].value()) == {"domain_reasoning", "knowledge_missing"}
    qtbot.mouseClick(page.next_button, Qt.MouseButton.LeftButton)

    tick(page, 1, "measured")
    qtbot.keyClick(page.steps[1], Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    tick(page, 2, "yes")
    qtbot.keyClick(page.steps[2], Qt.Key.Key_Return)
    tick(page, 3, "none")
    page.rate.setValue(100)
    qtbot.mouseClick(page.next_button, Qt.MouseButton.LeftButton)
    assert page.next_button.text() == "See recommendation →"
    tick(page, 4, True)
    qtbot.mouseClick(page.next_button, Qt.MouseButton.LeftButton)

    assert page.current_step == RESULT_STEP
    text = page.card.text()
    assert "Fine-tune, and use RAG for the knowledge" in text
    assert "Catastrophic forgetting" in text and "Static knowledge" in text
    assert "Too small a dataset" in text
    assert "500-2,000 training examples" in text
    assert "$100/h" in text and "in total" in text
    saved = load_decision(context.project)
    assert saved.answers.problems == ("domain_reasoning", "knowledge_missing")
    assert saved.answers.expert_hourly_rate_usd == 100

    assert page.estimate_button.isVisible()
    with qtbot.waitSignal(context.navigate_requested) as blocker:
        qtbot.mouseClick(page.estimate_button, Qt.MouseButton.LeftButton)
    name, payload = blocker.args
    assert name == "estimate"
    assert isinstance(payload, DecisionForEstimate) and payload.task_kind == "domain"
    assert (payload.examples, payload.lora_r) == (500, 16)
    json.dumps(dataclasses.asdict(payload))  # plain data, safe to keep or log

    # Reopening the page (as after a restart) shows the same decision, answers filled in.
    page.close()
    again = open_page(qtbot, context)
    assert again.current_step == RESULT_STEP
    assert again.card.text() == text
    assert again.steps[1].value() == "measured" and again.rate.value() == 100
    qtbot.mouseClick(again.change_button, Qt.MouseButton.LeftButton)
    assert again.current_step == 0
    assert again.steps[0].buttons["knowledge_missing"].isChecked()


def test_prompt_engineering_path_has_no_estimate_button_and_no_risks(qtbot, context):
    page = open_page(qtbot, context)
    tick(page, 0, "format_simple")
    page.go_next()
    tick(page, 1, "not_tried")
    page.go_next()
    tick(page, 2, "yes")
    page.go_next()
    tick(page, 3, "50_to_200")
    page.go_next()
    tick(page, 4, False)
    qtbot.keyClick(page.steps[4], Qt.Key.Key_Return)

    text = page.card.text()
    assert "Use prompt engineering" in text
    assert "None of the fine-tuning risks" in text
    assert "No training data" in text
    assert not page.estimate_button.isVisible()
    assert load_decision(context.project).recommendation.outcome == "prompt_engineering"


def test_back_and_step_bar_only_reach_answered_questions(qtbot, context):
    page = open_page(qtbot, context)
    page.step_buttons[3].click()
    assert page.current_step == 0  # nothing answered yet
    assert not page.step_buttons[1].isEnabled()
    tick(page, 0, "complex_behaviour")
    assert page.step_buttons[1].isEnabled() and not page.step_buttons[2].isEnabled()
    page.go_next()
    qtbot.keyClick(page.steps[1], Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert page.current_step == 0
    assert not page.step_buttons[RESULT_STEP].isEnabled()


def test_switching_projects_reloads_the_answers(qtbot, context, tmp_path):
    save_decision(
        context.project, Answers(("knowledge_changing",), "measured", "yes", "none", True)
    )
    first = context.project
    page = open_page(qtbot, context)
    assert "Use retrieval (RAG)" in page.card.text()

    other = create_project(tmp_path / "other", name="Other")
    with qtbot.waitSignal(context.project_changed):
        context.set_project(other)
    assert page.current_step == 0
    assert page.steps[0].value() is None and page.steps[4].value() is None
    assert page.history.count() == 0

    context.set_project(first)
    assert page.current_step == RESULT_STEP
    assert "Use retrieval (RAG)" in page.card.text()
    other.close()


def test_history_shows_earlier_decisions_and_can_restore_one(qtbot, context):
    older = save_decision(
        context.project, Answers(("format_simple",), "measured", "yes", "none", True)
    )
    save_decision(context.project, Answers(("complex_behaviour",), "measured", "no", "none", True))
    page = open_page(qtbot, context)
    assert page.history.count() == 2
    assert "(current)" in page.history.itemText(0)
    assert "more capable base model" in page.card.text()
    assert not page.use_this_button.isVisible()

    page.history.setFocus()
    qtbot.keyClick(page.history, Qt.Key.Key_Down)  # choose the older one
    assert page.decision.id == older.id
    assert "Use prompt engineering" in page.card.text()
    assert page.use_this_button.isVisible()
    page.use_this_button.click()
    assert load_decision(context.project).answers == older.answers
    assert page.history.count() == 3 and page.history.currentIndex() == 0


def test_a_damaged_saved_decision_is_reported_and_not_overwritten(qtbot, context):
    save_decision(context.project, Answers(("format_simple",), "measured", "yes", "none", True))
    with context.project.transaction() as conn:
        conn.execute("UPDATE decide_answers SET answers_json = '{broken'")
    page = open_page(qtbot, context)
    assert page.error_banner.isVisible()
    assert "cannot be read" in page.error_banner.text()
    assert page.current_step == 0
    tick(page, 0, "knowledge_missing")
    for step, value in ((1, "measured"), (2, "yes"), (3, "none"), (4, True)):
        page.go_next()
        tick(page, step, value)
    page.go_next()
    assert not page.error_banner.isVisible()
    rows = context.project.connection().execute("SELECT answers_json FROM decide_answers")
    assert next(row[0] for row in rows) == "{broken"  # kept, not overwritten


def test_main_window_opens_the_demo_decision(qtbot):
    from desktop.app import build_main_window

    window = build_main_window()
    qtbot.addWidget(window)
    window.show()
    page = window.show_page("decide")
    assert page.current_step == RESULT_STEP
    assert "Fine-tuning + RAG" in page.card.badge.text()
