"""The Evaluate page with real generation: the tiny model (baseline) against a LoRA adapter
trained here with peft, on an eval-set file; metrics, examples, drafts, probes, report, A/B.

The adapter learns to answer every ticket with the same JSON, so its format compliance
jumps from 0% to 100% (a significant "better"), it fails the tickets whose reference
is a different category (failures of both), and it fails the one example that must not
mention billing while the base model passes it (a regression).
"""

from __future__ import annotations

import json

import pytest
from chat_adapter import ANSWER, add_finished_run, train_chat_adapter
from PySide6.QtCore import Qt
from waiting import WORK_MS

from core.handoff import DraftsForDataset
from core.hardware import HardwareInfo
from desktop.context import AppContext
from desktop.evaluation.answer_diff import INSERTED_STYLE
from desktop.evaluation.page import DRAFT_NOTE, PROBES_HELP, TAB_AB, EvaluatePage

TOPICS = ["billing", "refund", "invoice", "charge", "late parcel", "login", "password", "hi"]


@pytest.fixture(scope="module")
def adapter_dir(tiny_model_dir, tmp_path_factory):
    return train_chat_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapter") / "final")


def _ticket(topic, reference=ANSWER, checks=None):
    record = {"messages": [{"role": "user", "content": f"ticket {topic}"}]}
    if reference is not None:
        record["messages"].append({"role": "assistant", "content": reference})
    if checks:
        record["checks"] = checks
    return record


@pytest.fixture
def eval_file(tmp_path):
    records = [_ticket(t) for t in TOPICS]
    records += [_ticket(t, '{"category": "shipping"}') for t in ("parcel lost", "wrong address")]
    records.append(_ticket("say hello", None, {"must_not_contain": ["billing"]}))
    path = tmp_path / "tickets.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def project_with_run(project, tiny_model_dir, adapter_dir):
    """A project with the tiny model as base and a finished training run holding the adapter."""
    add_finished_run(project, tiny_model_dir, adapter_dir)
    return project


def open_page(qtbot, project) -> tuple[EvaluatePage, AppContext]:
    context = AppContext(project, HardwareInfo(cpu_cores=2))
    page = EvaluatePage(context)
    qtbot.addWidget(page)
    page.resize(1280, 820)
    page.show()
    return page, context


def _choose_base(page, folder) -> None:
    combo = page.model_choice.base_combo
    index = combo.findData(str(folder.resolve()))
    assert index >= 0, [combo.itemText(i) for i in range(combo.count())]
    combo.setCurrentIndex(index)


def _evaluate(qtbot, page) -> None:
    assert page.start_evaluation(), page.progress_label.text()
    assert page.progress.isVisible() and page.cancel_button.isEnabled()
    assert not page.run_button.isEnabled()
    qtbot.waitUntil(lambda: not page.is_running(), timeout=WORK_MS)
    assert not page.last_error, page.last_error


def test_evaluate_base_against_a_lora_run_then_read_filter_draft_export_and_rate(
    qtbot, project_with_run, tiny_model_dir, eval_file, tmp_path
):
    page, context = open_page(qtbot, project_with_run)
    choice = page.model_choice
    assert choice.runs_list.count() == 1 and not choice.no_runs_label.isVisibleTo(page)
    assert choice.checked_items()[0][1].run_id == "run-1"  # the newest run is ticked
    _choose_base(page, tiny_model_dir)
    choice.prompt_edit.setPlainText("Answer with JSON only.")
    assert page.eval_set_choice.use_file(eval_file) is None
    assert "11 examples" in page.eval_set_choice.info.text()
    assert page.eval_set_choice.warning.isVisibleTo(page)
    assert "100-200" in page.eval_set_choice.warning.text()
    assert page.results_stack.currentIndex() == 0  # the empty state before any result
    page.max_tokens_spin.setValue(12)
    page.batch_spin.setValue(8)
    assert page.probes_check.isChecked()
    assert page.probes_check.isEnabled() and page.probes_check.toolTip() == PROBES_HELP

    _evaluate(qtbot, page)
    assert page.last_outcome is not None and not page.last_outcome.cancelled
    assert page.results_stack.currentIndex() == 1
    # Counts read in the right number (it said "2 model(s)").
    assert page.last_outcome.message == "Evaluated 2 models on 11 examples."
    assert page.results_heading.text().startswith("2 models on ")
    assert "(11 examples, version" in page.results_heading.text()
    assert project_with_run.get_meta("evaluation.baseline_prompt") == "Answer with JSON only."

    # The metrics table: baseline, run, and the run's change with its verdict.
    model = page.metrics_model
    headers = model.grid.headers
    assert headers[0] == "Metric" and headers[1].endswith("(baseline)")
    assert "+ prompt" in headers[1] and headers[2] == "run-1"
    assert headers[3] == "Change vs\nbaseline" and model.rowCount() == 6
    titles = [model.cell(r, 0).text for r in range(model.rowCount())]
    assert titles[:2] == ["Format compliance", "Task accuracy"]
    format_run, format_change = model.cell(0, 2), model.cell(0, 3)
    assert format_run.text.startswith("91%") and "(" in format_run.text  # 10 of 11, with its CI
    assert format_change.text.endswith("better"), format_change.text
    assert "McNemar" in format_change.tooltip
    perplexity = model.cell(titles.index("Perplexity on references"), 1).text
    assert "(" in perplexity  # the baseline's perplexity carries a bootstrap interval
    assert "better on format compliance" in model.grid.verdicts[0]
    assert "better</b> on format compliance" in page.verdict_label.text()
    assert page.size_warning.isVisibleTo(page)

    # Per-example view: filters, the diff, drafts to the Dataset page.
    examples = page.examples_view
    assert len(examples.shown_rows()) == 11
    examples.set_filter("regressions")
    regressions = examples.shown_rows()
    assert [r.example.user_text for r in regressions] == ["ticket say hello"]
    assert INSERTED_STYLE in examples.detail_html(regressions[0])
    assert "#c9f2c9" in examples.detail.toHtml()  # the candidate's added words, highlighted
    assert "regression" in examples.detail.toPlainText()
    examples.set_filter("failures")
    failures = examples.shown_rows()
    assert {r.example.user_text for r in failures} == {
        "ticket parcel lost",
        "ticket wrong address",
        "ticket say hello",
    }
    assert examples.add_all_button.text() == "Add all 3 failures shown"
    examples.select_row(0)
    with qtbot.waitSignal(context.navigate_requested) as sent:
        qtbot.mouseClick(examples.add_button, Qt.MouseButton.LeftButton)
    name, payload = sent.args
    assert name == "dataset"
    assert isinstance(payload, DraftsForDataset) and payload.note == DRAFT_NOTE
    assert payload.base_version_id is None  # the project has no dataset version yet
    [draft] = payload.drafts
    assert draft["messages"][-1]["role"] == "assistant"
    assert draft["messages"][0]["content"] == failures[0].example.user_text
    with qtbot.waitSignal(context.navigate_requested) as sent_all:
        examples.add_all_shown()
    assert len(sent_all.args[1].drafts) == 3
    examples.set_filter("all")
    assert len(examples.shown_rows()) == 11

    # Regression probes ran on the base and the run.
    [report] = page.regression_panel.reports
    assert report.tuned_label == "run-1" and report.categories[0].base.n == 48
    assert "run-1" in page.regression_panel.browser.toPlainText()

    # Blind A/B on the stored results, rated from the keyboard.
    page.tabs.setCurrentIndex(TAB_AB)
    ab = page.ab_view
    assert ab.stack.currentIndex() == 1
    assert ab.create_pairs(page.results[0].run_id, page.results[1].run_id, 3) is None
    ab.rater_edit.setText("ana")
    ab._rater_changed()
    for _ in range(3):
        card = ab.card
        assert "Model" not in card.answer_views["A"].toPlainText()
        for key in "45342323":
            qtbot.keyClick(card, key)
        qtbot.keyClick(card, Qt.Key.Key_B)
        qtbot.keyClick(card, Qt.Key.Key_Return)
    assert ab.finished
    results_text = ab.results_view.toPlainText()
    assert "3 of 3 pairs rated" in results_text and "win rate" in results_text
    assert "run-1" not in results_text  # still blind

    # The report names everything; written through the same call the dialog uses.
    written = page.export_report_to(tmp_path / "report")
    html = written.read_text(encoding="utf-8")
    assert written.suffix == ".html" and "run-1" in html and "Blind A/B" in html
    assert "General-capability probes" in html or "Regression" in html

    # Reopening the page shows the same comparison from the project.
    again, _ = open_page(qtbot, project_with_run)
    assert again.comparison.run_ids == page.comparison.run_ids
    assert again.metrics_model.grid.headers == headers


def test_cancel_keeps_the_page_usable_and_stores_nothing(
    qtbot, project_with_run, tiny_model_dir, eval_file
):
    page, _ = open_page(qtbot, project_with_run)
    _choose_base(page, tiny_model_dir)
    assert page.eval_set_choice.use_file(eval_file) is None
    page.max_tokens_spin.setValue(8)
    assert page.start_evaluation()
    page.cancel_evaluation()
    qtbot.waitUntil(lambda: not page.is_running(), timeout=WORK_MS)
    assert page.last_outcome.cancelled and page.last_outcome.comparison is None
    assert page.results_stack.currentIndex() == 0
    assert page.run_button.isEnabled() and not page.cancel_button.isEnabled()
    assert not page.progress.isVisible()


def test_the_evaluate_button_stays_in_view_at_900x700(qtbot, project_with_run):
    # The walk found Evaluate cut at the bottom of the scrolled setup column at 900x700.
    page, _ = open_page(qtbot, project_with_run)
    page.resize(900, 700)
    qtbot.waitUntil(lambda: page.run_button.isVisible())
    for button in (page.run_button, page.cancel_button):
        assert button.visibleRegion().boundingRect() == button.rect()
        bottom = button.mapTo(page, button.rect().bottomLeft()).y()
        assert bottom < page.height()
