"""The HTML report, regression flags and error-analysis helpers, on constructed results."""

import re

import pytest

from core.evaluation.ab_pairs import Rating, blind_pairs, create_pair_set, record_rating
from core.evaluation.checks import score_answer
from core.evaluation.error_analysis import (
    ANSWER_PLACEHOLDER,
    compare_examples,
    draft_training_example,
    failing_examples,
    word_diff,
)
from core.evaluation.eval_set import eval_set_from_examples
from core.evaluation.generation import GenerationConfig, ReferenceLoss
from core.evaluation.models import ModelSpec
from core.evaluation.regression import FORGETTING_ADVICE, compare_probes, load_probe_set
from core.evaluation.report import ReportInput, build_report, report_from_project, write_report
from core.evaluation.results import EvalResult, ExampleOutput
from core.evaluation.store import save_eval_set, save_result
from core.evaluation.svg_charts import grouped_bars, win_tie_loss_bar


def _result(eval_set, label, answers, **spec):
    outputs = [
        ExampleOutput(
            e.index,
            a,
            len(a.split()),
            True,
            score_answer(e, a),
            ReferenceLoss(4.0, 2) if e.reference else None,
        )
        for e, a in zip(eval_set.examples, answers)
    ]
    model = ModelSpec(label=label, base_model="/models/base", **spec)
    return EvalResult(model, eval_set, GenerationConfig(), outputs, created_at="2025-01-01T00:00")


def _tickets():
    return eval_set_from_examples(
        "tickets",
        "memory",
        [
            {
                "messages": [
                    {"role": "user", "content": "Classify: <b>refund</b> & more"},
                    {"role": "assistant", "content": '{"category": "billing"}'},
                ]
            },
            {"messages": [{"role": "user", "content": "Say hi"}], "checks": {"contains": "hi"}},
            {"messages": [{"role": "user", "content": "Free text"}]},
        ],
    )


def test_report_is_self_contained_escaped_and_shows_deltas():
    eval_set = _tickets()
    base = _result(
        eval_set,
        "Base + prompt",
        ["<script>alert(1)</script>", "hi there", "x"],
        system_prompt="Answer in JSON.",
    )
    tuned = _result(
        eval_set,
        "run v2",
        ['{"category": "billing"}', "hello", "y"],
        kind="full",
        training_run="run v2",
    )
    html = build_report(ReportInput([base, tuned], title="Tickets", project_name="Demo"))
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 2
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;refund&lt;/b&gt; &amp; more" in html
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", html)  # nothing fetched from outside
    assert "run v2 vs Base + prompt" in html and "pts" in html
    assert "not enough examples to tell" in html
    assert "3 examples; 100-200" in html
    assert "<ins>" in html and "<del>" in html
    assert "regression</span>" in html  # example 2: the baseline said hi, run v2 did not


def test_report_from_project_reveals_ab_identities_and_writes_atomically(project, tmp_path):
    eval_set = _tickets()
    set_id = save_eval_set(project, eval_set)
    base_id = save_result(project, set_id, _result(eval_set, "Base", ["a", "hi", "b"]))
    tuned_id = save_result(project, set_id, _result(eval_set, "Tuned", ["c", "hi", "d"]))
    pair_set = create_pair_set(project, base_id, tuned_id, seed=2, name="Base vs Tuned")
    for pair in blind_pairs(project, pair_set):
        record_rating(project, pair.id, "ana", Rating("A", {"A": {"tone": 4}, "B": {"tone": 3}}))
        record_rating(project, pair.id, "ben", Rating("A"))
    inputs = report_from_project(project, [base_id, tuned_id], [pair_set])
    path = write_report(tmp_path / "out" / "report.html", inputs)
    html = path.read_text(encoding="utf-8")
    assert "Revealed: the models were <b>Base</b> and <b>Tuned</b>" in html
    assert "Fleiss" in html and "Cohen" in html
    assert "Test project" in html
    assert list((tmp_path / "out").iterdir()) == [path]  # no temporary file left behind


def _probe_result(label, passing):
    probes = load_probe_set()
    answers = []
    for example in probes.examples:
        answers.append("never passes anything" if example.category not in passing else "")
    outputs = []
    for example, answer in zip(probes.examples, answers):
        score = score_answer(example, answer)
        if example.category in passing:  # a perfect answer: every check passes
            score = type(score)(
                True, True, False, tuple(type(c)(c.name, c.kind, True) for c in score.checks)
            )
        outputs.append(ExampleOutput(example.index, answer, 1, True, score))
    return EvalResult(ModelSpec(label=label, base_model="/m"), probes, GenerationConfig(), outputs)


def test_probe_set_has_four_categories_with_checks():
    probes = load_probe_set()
    assert probes.categories == [
        "arithmetic",
        "format following",
        "instruction following",
        "short facts",
    ]
    assert len(probes.examples) >= 40
    assert all(e.checks.has_format_checks or e.checks.has_answer_checks for e in probes.examples)


@pytest.mark.parametrize(
    ("text", "passes"),
    [
        ("arith-01", ["12", "It is 12.", "7 + 5 = 12"]),
        ("format-07", ["2024-12-25", " 2024-12-25."]),
        ("inst-01", ["Yes", "yes."]),
    ],
)
def test_probe_checks_accept_good_answers(text, passes):
    example = next(e for e in load_probe_set().examples if e.example_id == text)
    for answer in passes:
        score = score_answer(example, answer)
        assert all(c.passed for c in score.checks), (answer, score.failures)
    assert not all(c.passed for c in score_answer(example, "I do not know").checks)


def test_forgetting_is_flagged_with_the_guides_advice():
    base = _probe_result(
        "base", {"arithmetic", "short facts", "format following", "instruction following"}
    )
    tuned = _probe_result("tuned", {"short facts", "format following", "instruction following"})
    report = compare_probes(base, tuned)
    assert report.forgetting
    flagged = [c.category for c in report.categories if c.flagged]
    assert flagged == ["all", "arithmetic"]
    arithmetic = next(c for c in report.categories if c.category == "arithmetic")
    assert arithmetic.delta == pytest.approx(-1.0) and arithmetic.significant
    assert (
        FORGETTING_ADVICE in report.message and "general-purpose instruction data" in report.message
    )
    same = compare_probes(base, base)
    assert not same.forgetting and "No regression" in same.message
    html = build_report(ReportInput([base, tuned], regressions=[report]))
    assert "catastrophic forgetting" in html


def test_examples_filtered_to_regressions_and_failures_with_drafts():
    eval_set = _tickets()
    base = _result(eval_set, "base", ['{"category": "billing"}', "hi", "x"])
    tuned = _result(eval_set, "tuned", ["no json", "hello", "y"])
    assert [r.index for r in compare_examples(base, tuned, "regressions")] == [0, 1]
    assert [r.index for r in compare_examples(base, tuned, "failures")] == [0, 1]
    assert compare_examples(base, tuned, "improvements") == []
    row = compare_examples(base, tuned)[2]
    assert row.status == "not checked"
    assert [e.index for e, _ in failing_examples(tuned)] == [0, 1]
    with_reference = draft_training_example(eval_set.examples[0], "no json", "Be brief.")
    assert with_reference.as_record()["messages"][0] == {"role": "system", "content": "Be brief."}
    assert with_reference.as_record()["messages"][-1]["content"] == '{"category": "billing"}'
    placeholder = draft_training_example(eval_set.examples[1], "hello")
    assert placeholder.needs_expert_answer
    assert placeholder.as_record()["messages"][-1]["content"] == ANSWER_PLACEHOLDER
    assert "'hello'" in placeholder.note


def test_word_diff_marks_changes():
    assert word_diff("the cat sat", "the dog sat") == [
        ("equal", "the "),
        ("delete", "cat"),
        ("insert", "dog"),
        ("equal", " sat"),
    ]
    assert word_diff("same", "same") == [("equal", "same")]


def test_charts_are_valid_svg_with_escaped_labels():
    svg = grouped_bars(["Format"], [("a<b", [(0.5, 0.4, 0.6)]), ("c", [None])], "Rates")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "a&lt;b" in svg and "n/a" in svg
    assert "No ratings yet" in win_tie_loss_bar("A", "B", 0, 0, 0)
    assert "tie: 2" in win_tie_loss_bar("A", "B", 1, 2, 3)


def _probe_result_passing(label, passing_ids):
    probes = load_probe_set()
    outputs = []
    for example in probes.examples:
        score = score_answer(example, "never passes anything")
        passed = example.example_id in passing_ids
        score = type(score)(
            passed, passed, False, tuple(type(c)(c.name, c.kind, passed) for c in score.checks)
        )
        outputs.append(ExampleOutput(example.index, "", 1, True, score))
    return EvalResult(ModelSpec(label=label, base_model="/m"), probes, GenerationConfig(), outputs)


def test_a_drop_within_chance_is_not_called_forgetting():
    """3 arithmetic probes lost, 1 gained: a big drop on a small category, but p = 0.62."""
    arithmetic = [e.example_id for e in load_probe_set().examples if e.category == "arithmetic"]
    base = _probe_result_passing("base", set(arithmetic[:3]))
    tuned = _probe_result_passing("tuned", {arithmetic[3]})
    report = compare_probes(base, tuned)
    category = next(c for c in report.categories if c.category == "arithmetic")
    assert category.delta < -report.threshold and category.p_value == pytest.approx(0.625)
    assert not category.flagged and not report.forgetting
    assert "within chance" in report.message and FORGETTING_ADVICE not in report.message
    html = build_report(ReportInput([base, tuned], regressions=[report]))
    assert "catastrophic forgetting" not in html.lower().replace("no catastrophic", "")
