"""The Evaluate page's empty states, its model and eval-set choices, the metrics grid's
words, the examples view on stored results, and the report export call."""

from __future__ import annotations

import json

from core.evaluation.checks import score_answer
from core.evaluation.comparisons import (
    Comparison,
    EvaluationPlan,
    recent_comparisons,
    remember_comparison,
    unique_labels,
)
from core.evaluation.eval_set import eval_set_from_examples
from core.evaluation.generation import GenerationConfig, ReferenceLoss
from core.evaluation.intervals import mean_length_interval, perplexity_interval
from core.evaluation.models import ModelSpec
from core.evaluation.report_export import export_report
from core.evaluation.results import EvalResult, ExampleOutput
from core.evaluation.store import save_eval_set, save_result
from core.handoff import RunForEvaluation
from core.hardware import HardwareInfo
from desktop.context import AppContext
from desktop.evaluation.answer_diff import DELETED_STYLE, INSERTED_STYLE, diff_html
from desktop.evaluation.metrics_table import build_grid
from desktop.evaluation.model_choice import NO_RUNS_TEXT
from desktop.evaluation.page import NO_RESULTS_TEXT, PROBES_NEED_A_RUN, EvaluatePage
from desktop.theme import GOOD, status_color

JSON_ANSWER = '{"intent": "refund"}'


def open_page(qtbot, project) -> EvaluatePage:
    page = EvaluatePage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.resize(1280, 820)
    page.show()
    return page


def _results(n=40, tuned_right=30, base_right=10):
    """Stored-shape results: JSON references; each model right on a known number of examples."""
    eval_set = eval_set_from_examples(
        "intents",
        "memory",
        [
            {
                "messages": [
                    {"role": "user", "content": f"refund please {i}"},
                    {"role": "assistant", "content": JSON_ANSWER},
                ]
            }
            for i in range(n)
        ],
    )
    results = []
    for label, right in (("base", base_right), ("tuned", tuned_right)):
        outputs = []
        for e in eval_set.examples:
            answer = JSON_ANSWER if e.index < right else "Sure! The intent is refund."
            outputs.append(
                ExampleOutput(
                    e.index,
                    answer,
                    6 if e.index < right else 8,
                    True,
                    score_answer(e, answer),
                    ReferenceLoss(3.0 if label == "base" else 1.0, 6),
                )
            )
        results.append(
            EvalResult(
                ModelSpec(label=label, base_model="/m"), eval_set, GenerationConfig(), outputs
            )
        )
    return results


def _store(project, results):
    set_id = save_eval_set(project, results[0].eval_set)
    run_ids = tuple(save_result(project, set_id, r) for r in results)
    comparison = Comparison(run_ids, set_id, "2025-02-03T04:05:06", "base vs tuned on intents")
    remember_comparison(project, comparison)
    return comparison


def test_empty_project_says_what_to_do(qtbot, project, monkeypatch):
    # No base model is prepared (the bundled one is reported missing) and nothing is trained.
    monkeypatch.setattr("core.models.registry.is_converted", lambda: False)
    page = open_page(qtbot, project)
    choice = page.model_choice
    assert choice.no_base_label.isVisibleTo(page) and "Project page" in choice.no_base_label.text()
    assert choice.no_runs_label.isVisibleTo(page)
    assert NO_RUNS_TEXT in choice.no_runs_label.text()
    assert "Train a model first, or evaluate the base model alone" in NO_RUNS_TEXT
    assert "No eval set yet" in page.eval_set_choice.info.text()
    assert not page.run_button.isEnabled() and not page.export_button.isEnabled()
    assert page.results_stack.currentIndex() == 0
    assert page.no_results_label.text() == NO_RESULTS_TEXT
    assert not page.probes_check.isEnabled()  # probes need a fine-tuned model
    assert page.probes_check.toolTip() == PROBES_NEED_A_RUN  # and the greyed box says so
    assert page.ab_view.stack.currentIndex() == 0
    assert "No pairs yet" in page.judge_panel.results_view.toPlainText()
    assert page.start_evaluation() is False
    assert "Choose a base model" in page.progress_label.text()


def test_bad_folders_and_files_are_explained(qtbot, project, tmp_path):
    page = open_page(qtbot, project)
    problem = page.model_choice.add_folder(tmp_path)
    assert "holds no adapter" in problem
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\nnot json\n', encoding="utf-8")
    problem = page.eval_set_choice.use_file(bad)
    assert "bad.jsonl:1" in problem and "bad.jsonl:2" in problem


def test_metric_grid_speaks_in_words_with_intervals():
    results = _results()
    grid = build_grid(results)
    assert grid.headers == ["Metric", "base\n(baseline)", "tuned", "Change vs\nbaseline"]
    rows = {row[0].text: row for row in grid.rows}
    fmt = rows["Format compliance"]
    assert fmt[1].text == "25%  (14%–40%)" and fmt[2].text == "75%  (60%–86%)"
    assert fmt[3].text == "+50.0 pts\nbetter" and fmt[3].color == status_color(GOOD)
    assert "McNemar" in fmt[3].tooltip and "p = " in fmt[3].tooltip
    assert rows["Perplexity on references"][3].text.endswith("better")
    assert rows["Answer length (tokens)"][3].text.endswith("shorter")
    assert rows["Refusal rate"][1].text.startswith("0%")
    assert grid.verdicts == [
        "tuned against base: better on format compliance, task accuracy, perplexity on "
        "references; not enough examples to tell on refusal rate."
    ]
    # Three examples cannot tell a 2-of-3 from a 1-of-3 model apart.
    small = build_grid(_results(n=3, tuned_right=2, base_right=1))
    assert small.rows[0][3].text.endswith("not enough examples to tell")
    assert "100-200" in small.rows[0][3].tooltip


def test_intervals_contain_the_estimate():
    outputs = _results()[1].outputs
    low, high = mean_length_interval(outputs)
    assert low <= sum(o.n_tokens for o in outputs) / len(outputs) <= high and low < high
    low, high = perplexity_interval(outputs)
    assert abs(low - 1.181) < 0.01 and abs(high - 1.181) < 0.01  # every example alike
    assert perplexity_interval([]) is None and mean_length_interval([]) is None


def test_diff_marks_added_and_removed_words():
    html = diff_html("the cat sat", "the dog sat <b>")
    assert f'<span style="{DELETED_STYLE}">cat</span>' in html
    assert f'<span style="{INSERTED_STYLE}">dog</span>' in html
    assert "&lt;b&gt;" in html  # answers are text, never markup


def test_stored_comparison_shows_examples_filters_and_exports(qtbot, project, tmp_path):
    comparison = _store(project, _results(n=12, tuned_right=8, base_right=4))
    page = open_page(qtbot, project)
    assert page.comparison.run_ids == comparison.run_ids
    assert page.history_combo.count() == 1 and page.export_button.isEnabled()
    assert page.size_warning.isVisibleTo(page)  # 12 examples: fewer than recommended
    view = page.examples_view
    view.set_filter("improvements")
    assert [r.index for r in view.shown_rows()] == [4, 5, 6, 7]
    view.set_filter("failures")
    assert [r.index for r in view.shown_rows()] == [8, 9, 10, 11]
    assert view.filter_combo.currentText().endswith("(4)")
    assert view.add_all_button.isEnabled()
    view.set_filter("regressions")
    assert view.shown_rows() == [] and not view.add_all_button.isEnabled()
    assert "No example matches" in view.detail.toPlainText()

    written = export_report(project, tmp_path / "out" / "report.html", comparison)
    html = written.read_text(encoding="utf-8")
    assert "<svg" in html and "tuned" in html and "base vs tuned on intents" in html
    assert not list((tmp_path / "out").glob("*.tmp*"))  # written atomically


def test_history_labels_and_plans(project):
    results = _results(n=4)
    _store(project, results)
    assert [c.title for c in recent_comparisons(project)] == ["base vs tuned on intents"]
    project.set_meta("evaluation.comparisons", "not json")
    assert recent_comparisons(project) == []  # a damaged history is only forgotten
    specs = unique_labels([ModelSpec("run", "/m"), ModelSpec("run", "/m")])
    assert [s.label for s in specs] == ["run", "run (2)"]
    try:
        EvaluationPlan(results[0].eval_set, ())
    except ValueError as error:
        assert "at least the base model" in str(error)
    else:
        raise AssertionError("a plan without models was accepted")
    assert json.loads(json.dumps(Comparison((1, 2), 3, "t", "x", ((4, 5),), 7).as_dict()))


def test_runs_are_listed_newest_first_and_receive_ticks_the_one_asked_for(qtbot, project):
    from core.runs.record import insert_run_row

    for number, started in ((1, "2025-01-01T10:00:00"), (2, "2025-01-02T10:00:00")):
        (project.runs_dir / f"run-{number}" / "final").mkdir(parents=True)
        insert_run_row(
            project,
            f"run-{number}",
            {
                "name": f"run-{number}",
                "status": "finished",
                "base_model": "m",
                "method": "lora",
                "config_yaml": "",
                "folder": f"run-{number}",
                "started_at": started,
                "final_model_dir": "final",
            },
        )
    page = open_page(qtbot, project)
    choice = page.model_choice
    assert [value.run_id for _kind, value in choice.checked_items()] == ["run-2"]
    page.tabs.setCurrentIndex(1)
    page.receive(RunForEvaluation("run-1"))
    assert [value.run_id for _kind, value in choice.checked_items()] == ["run-1"]
    assert page.tabs.currentIndex() == 0
    page.receive("ignored")  # anything else is left alone
    assert [value.run_id for _kind, value in choice.checked_items()] == ["run-1"]


def _trained_run(project, tmp_path, prompts):
    """A run's record as the trainer leaves it, trained on `prompts` (a plain file, 10 %
    held out for validation as the trainer does)."""
    from core.recipe.config import TrainConfig, config_to_yaml
    from core.runs.record import insert_run_row

    train = tmp_path / "train.jsonl"
    rows = [
        {
            "messages": [
                {"role": "system", "content": "Route tickets."},
                {"role": "user", "content": p},
                {"role": "assistant", "content": JSON_ANSWER},
            ]
        }
        for p in prompts
    ]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    config = TrainConfig(base_model="/m", train_file=str(train), validation_fraction=0.1)
    folder = project.runs_dir / "run-leaky"
    folder.mkdir(parents=True)
    text = config_to_yaml(config)
    (folder / "config.yaml").write_text(text, encoding="utf-8")
    insert_run_row(
        project,
        "run-leaky",
        {
            "name": "run-leaky",
            "status": "finished",
            "base_model": "/m",
            "method": "lora",
            "config_yaml": text,
            "folder": "run-leaky",
            "device": "CPU",
            "started_at": "2025-03-01T10:00:00+00:00",
            "duration_s": 60.0,
            "train_file": str(train),
        },
    )
    return "run-leaky"


def test_eval_examples_the_run_trained_on_are_a_warning_in_core_report_and_page(
    qtbot, project, tmp_path
):
    from dataclasses import replace

    from core.evaluation.leakage import find_leakage
    from core.evaluation.report import build_report, report_from_project
    from core.training.conversations import hold_out, read_conversations

    run_id = _trained_run(project, tmp_path, [f"refund please {i}" for i in range(30, 50)])
    from core.recipe.config import TrainConfig

    held_train, held_valid = hold_out(
        read_conversations(tmp_path / "train.jsonl"), 0.1, TrainConfig().seed
    )
    assert len(held_valid) == 2  # the trainer holds out 10 % of the 20
    results = _results(n=40)
    results[1] = replace(
        results[1], spec=ModelSpec(label="tuned", base_model="/m", kind="full", training_run=run_id)
    )
    # Eval prompts 31-40 ("refund please 30".."39") were in the training file; of those,
    # the ones the trainer held out for validation were never trained on.
    trained_prompts = {c.messages[1]["content"] for c in held_train}
    expected = [e.index for e in results[0].eval_set.examples if e.user_text in trained_prompts]
    assert 8 <= len(expected) <= 10
    leakage = find_leakage(project, results[0].eval_set, run_id)
    assert leakage is not None and list(leakage.leaked) == expected
    assert f"{len(expected)} of 40 eval examples" in leakage.message
    assert f"#{expected[0] + 1}" in leakage.message and run_id in leakage.message
    assert find_leakage(project, results[0].eval_set, None) is None

    comparison = _store(project, results)
    report = build_report(report_from_project(project, comparison.run_ids))
    assert "memory, not skill" in report

    page = open_page(qtbot, project)
    page.show_comparison(comparison)
    banner = page.leakage_warning
    assert banner.isVisibleTo(page)
    assert f"{len(expected)} of 40 eval examples" in banner.text()
    assert f"#{expected[0] + 1}" in banner.text()
    page.grab().save(str(tmp_path / "leakage.png"))
