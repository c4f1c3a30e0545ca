"""Blind A/B rating and the LLM judge on the Evaluate page, over stored results.

The results are stored directly (no generation), so these tests drive only the widgets:
keyboard rating, going back, anonymity until revealed, two raters' agreement, a judge
served over HTTP on 127.0.0.1 (no key) and a local judge (the tiny model).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from PySide6.QtCore import Qt
from waiting import WORK_MS

from core.evaluation.ab_pairs import get_rating, revealed_sides
from core.evaluation.checks import score_answer
from core.evaluation.comparisons import Comparison, remember_comparison
from core.evaluation.eval_set import eval_set_from_examples
from core.evaluation.generation import GenerationConfig
from core.evaluation.models import ModelSpec
from core.evaluation.results import EvalResult, ExampleOutput
from core.evaluation.store import save_eval_set, save_result
from core.hardware import HardwareInfo
from desktop.context import AppContext
from desktop.evaluation.ab_summary_html import MASKED
from desktop.evaluation.page import TAB_AB, TAB_JUDGE, EvaluatePage
from desktop.evaluation.rating_card import CELLS

N = 6


def store_two_results(project, n=N):
    """'base' and 'tuned' answers to n prompts, stored and remembered as a comparison."""
    eval_set = eval_set_from_examples(
        "questions",
        "memory",
        [{"messages": [{"role": "user", "content": f"question {i}"}]} for i in range(n)],
    )
    set_id = save_eval_set(project, eval_set)
    run_ids = []
    for label in ("base", "tuned"):
        outputs = [
            ExampleOutput(e.index, f"{label} says {e.index}", 3, True, score_answer(e, "x"))
            for e in eval_set.examples
        ]
        result = EvalResult(
            ModelSpec(label=label, base_model="/m"), eval_set, GenerationConfig(), outputs, "t"
        )
        run_ids.append(save_result(project, set_id, result))
    remember_comparison(
        project, Comparison(tuple(run_ids), set_id, "2025-01-01T00:00:00", "base vs tuned")
    )
    return run_ids


def open_page(qtbot, project) -> EvaluatePage:
    page = EvaluatePage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.resize(1280, 820)
    page.show()
    return page


def press(qtbot, widget, keys) -> None:
    for key in keys:
        qtbot.keyClick(widget, key)


@pytest.fixture
def rating_page(qtbot, project):
    base, tuned = store_two_results(project)
    page = open_page(qtbot, project)
    page.tabs.setCurrentIndex(TAB_AB)
    view = page.ab_view
    assert view.stack.currentIndex() == 1
    # The page preselects the comparison's baseline and candidate.
    assert (view.first_combo.currentData(), view.second_combo.currentData()) == (base, tuned)
    view.count_spin.setValue(4)
    qtbot.mouseClick(view.create_button, Qt.MouseButton.LeftButton)
    assert len(view.pairs) == 4
    view.rater_edit.setText("ana")
    view._rater_changed()
    return page, base, tuned


def test_keyboard_rating_back_and_results_stay_blind_until_revealed(qtbot, rating_page, project):
    page, _base, tuned = rating_page
    view, card = page.ab_view, page.ab_view.card
    first_pair = view.pairs[0]
    # Answers carry no model names; A and B are whatever the core drew for this pair.
    shown = {card.answer_views["A"].toPlainText(), card.answer_views["B"].toPlainText()}
    assert shown == {
        f"base says {first_pair.example_index}",
        f"tuned says {first_pair.example_index}",
    }

    # 1-5 walk down A's dimensions then B's; Up moves back; A/B/T pick; Enter saves.
    press(qtbot, card, "5432")
    assert card.cursor_cell == CELLS[4]
    qtbot.keyClick(card, Qt.Key.Key_Up)
    qtbot.keyClick(card, "1")  # corrects A's completeness
    press(qtbot, card, "2222")
    qtbot.keyClick(card, Qt.Key.Key_Return)  # no pick yet: refused, stays
    assert view.position == 0 and "Pick the better answer" in card.message.text()
    qtbot.keyClick(card, Qt.Key.Key_A)
    qtbot.keyClick(card, Qt.Key.Key_Return)
    assert view.position == 1
    stored = get_rating(project, first_pair.id, "ana")
    assert stored.pick == "A"
    assert stored.scores["A"] == {"accuracy": 5, "format": 4, "tone": 3, "completeness": 1}
    assert stored.scores["B"] == {"accuracy": 2, "format": 2, "tone": 2, "completeness": 2}

    # The results wait until every pair is rated, so they cannot sway the rater.
    assert "appear when you have rated every pair" in view.results_view.toPlainText()

    # Back shows the stored rating again; re-picking replaces it.
    qtbot.keyClick(card, Qt.Key.Key_Left)
    assert view.position == 0 and card.pick == "A" and card.scores["A"]["accuracy"] == 5
    qtbot.keyClick(card, Qt.Key.Key_T)
    qtbot.keyClick(card, Qt.Key.Key_Right)
    assert get_rating(project, first_pair.id, "ana").pick == "tie"

    # The tuned model wins the other three pairs, whichever side it was shown on.
    sides = revealed_sides(project, view.pair_set_id)
    while not view.finished:
        pair = view.pairs[view.position]
        winner = "A" if sides[pair.id][0] == tuned else "B"
        press(qtbot, card, "33334444")
        qtbot.keyClick(card, getattr(Qt.Key, f"Key_{winner}"))
        qtbot.keyClick(card, Qt.Key.Key_Return)
    text = view.results_view.toPlainText()
    assert "4 of 4 pairs rated by 1 rater: ana" in text
    assert f"{MASKED[1]} better" in text and "win rate, ties left out" in text
    assert "tuned" not in text and "needs a second rater" in text

    view.reveal()
    revealed = view.results_view.toPlainText()
    assert "tuned better" in revealed and "75%" in revealed  # 3 of 4 pairs, with its CI


def test_a_second_rater_brings_agreement(qtbot, rating_page, project):
    page, _base, _tuned = rating_page
    view, card = page.ab_view, page.ab_view.card
    for rater in ("ana", "ben"):
        view.rater_edit.setText(rater)
        view._rater_changed()
        assert view.position == 0
        for _ in range(4):
            qtbot.keyClick(card, Qt.Key.Key_A)
            qtbot.keyClick(card, Qt.Key.Key_Return)
    text = view.results_view.toPlainText()
    assert "2 raters: ana, ben" in text
    assert "Agreement between raters" in text and "every rater picked alike on 100%" in text


def test_rating_needs_a_name_and_pairs_need_two_models(qtbot, project):
    page = open_page(qtbot, project)
    assert page.ab_view.stack.currentIndex() == 0  # nothing evaluated: the empty state
    assert "Compare tab first" in page.ab_view.empty_label.text()
    base, _tuned = store_two_results(project)
    page.ab_view.refresh()
    view = page.ab_view
    assert view.stack.currentIndex() == 1 and view.card.pair is None
    assert "Create pairs" in view.card.message.text()
    assert "different results" in view.create_pairs(base, base)
    assert view.create_pairs(base, _tuned, 2) is None
    view.rater_edit.setText("")
    view._rater_changed()
    qtbot.keyClick(view.card, Qt.Key.Key_B)
    assert not view.save_and_next()
    assert "Type your name" in view.card.message.text()


class _JudgeServer:
    """An OpenAI-compatible server that always prefers the answer shown second."""

    def __init__(self):
        self.auth: list[str | None] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.auth.append(self.headers.get("Authorization"))
                verdict = {"A": {"accuracy": 2}, "B": {"accuracy": 4}, "winner": "B"}
                body = json.dumps({"choices": [{"message": {"content": json.dumps(verdict)}}]})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_http_judge_without_a_key_and_its_position_bias(qtbot, rating_page):
    page, _base, _tuned = rating_page
    view, card = page.ab_view, page.ab_view.card
    for _ in range(4):  # the human picks A every time
        qtbot.keyClick(card, Qt.Key.Key_A)
        qtbot.keyClick(card, Qt.Key.Key_Return)
    page.tabs.setCurrentIndex(TAB_JUDGE)
    judge = page.judge_panel
    assert judge.pair_set_combo.currentData() == view.pair_set_id
    judge.http_radio.setChecked(True)
    assert not judge.local_combo.isVisibleTo(page) and judge.url_edit.isVisibleTo(page)
    judge.url_edit.setText("not a url")
    assert not judge.start() and "http://" in judge.progress_label.text()
    with _JudgeServer() as server:
        judge.url_edit.setText(server.url)
        assert judge.start()
        assert judge.cancel_button.isEnabled()
        qtbot.waitUntil(lambda: not judge.is_running() and judge.task is None, timeout=WORK_MS)
    assert not judge.last_error, judge.last_error
    assert server.auth == [None] * 8  # 4 pairs in both orders, and no key was needed
    text = judge.results_view.toPlainText()
    # Always "the second answer" flips with the order: never consistent, so all ties.
    assert "Judged 4 pairs" in text and "0%" in text
    assert "Agrees with the human raters' majority on 0% of 4 pairs" in text
    assert "Judged 4 pairs" in judge.progress_label.text()


def test_local_judge_runs_on_the_tiny_model(qtbot, rating_page, tiny_model_dir):
    page, base, tuned = rating_page
    assert page.ab_view.create_pairs(base, tuned, 1) is None  # one pair keeps this quick
    judge = page.judge_panel
    assert judge.pair_set_combo.currentData() == page.ab_view.pair_set_id
    judge.add_local_model("tiny", str(tiny_model_dir))
    judge.max_tokens_spin.setValue(4)
    config = judge.config()
    assert config.kind == "local" and config.model_path == str(tiny_model_dir)
    assert judge.start()
    qtbot.waitUntil(lambda: judge.task is None, timeout=WORK_MS)
    assert not judge.last_error, judge.last_error
    text = judge.results_view.toPlainText()
    assert "Judged 1 pairs, each in both orders" in text
    assert "No human ratings of these pairs yet" in text
