"""Scoring one answer: each kind of check, the format a JSON reference implies, refusals."""

import pytest

from core.evaluation.checks import is_refusal, normalise, score_answer
from core.evaluation.eval_set import eval_set_from_examples


def _example(checks=None, reference=None):
    messages = [{"role": "user", "content": "q"}]
    if reference is not None:
        messages.append({"role": "assistant", "content": reference})
    record = {"messages": messages}
    if checks:
        record["checks"] = checks
    return eval_set_from_examples("s", "m", [record]).examples[0]


@pytest.mark.parametrize(
    ("checks", "answer", "format_ok", "correct"),
    [
        ({"exact": "Paris"}, "  paris. ", None, True),
        ({"exact": "Paris"}, "Paris, France", None, False),
        ({"contains": ["red", "blue"]}, "Red and BLUE", None, True),
        ({"contains": ["red", "blue"]}, "red only", None, False),
        ({"must_not_contain": "as an AI"}, "As an AI, I think", False, None),
        ({"must_not_contain": "as an AI"}, "I think", True, None),
        ({"regex": r"\d{4}-\d{2}-\d{2}"}, " 2024-12-25\n", True, None),
        ({"regex": r"\d{4}-\d{2}-\d{2}"}, "on 2024-12-25", False, None),
        ({"valid_json": True}, '{"a": [1, 2]}', True, None),
        ({"valid_json": True}, "```json\n{}\n```", False, None),
        ({"max_length": 5}, "12345", True, None),
        ({"max_length": 5}, "123456", False, None),
    ],
)
def test_each_check(checks, answer, format_ok, correct):
    score = score_answer(_example(checks), answer)
    assert (score.format_ok, score.correct) == (format_ok, correct)


def test_json_schema_failures_say_why():
    schema = {
        "type": "object",
        "required": ["name", "age"],
        "properties": {"age": {"type": "integer"}},
    }
    example = _example({"json_schema": schema})
    assert score_answer(example, '{"name": "Ana", "age": 30}').format_ok is True
    wrong = score_answer(example, '{"name": "Ana", "age": "thirty"}')
    assert wrong.format_ok is False
    assert "'thirty' is not of type 'integer'" in wrong.failures[0].detail
    assert "not valid JSON" in score_answer(example, "Ana, 30").failures[0].detail


def test_json_reference_implies_the_format_and_is_compared_as_json():
    example = _example(reference='{"category": "billing", "priority": "high"}')
    same = score_answer(example, '{"priority": "high",  "category": "billing"}')
    assert (same.format_ok, same.correct) == (True, True)
    assert all(c.inferred for c in same.checks if c.kind == "format")
    other_values = score_answer(example, '{"category": "shipping", "priority": "high"}')
    assert (other_values.format_ok, other_values.correct) == (True, False)
    missing_key = score_answer(example, '{"category": "billing"}')
    assert (missing_key.format_ok, missing_key.correct) == (False, False)
    prose = score_answer(example, "It is about billing.")
    assert (prose.format_ok, prose.correct) == (False, False)
    assert (
        "priority: expected 'high', got 'low'"
        in score_answer(example, '{"category": "billing", "priority": "low"}').failures[0].detail
    )


def test_free_text_fields_of_a_json_reference_need_only_be_present():
    example = _example(
        reference='{"category": "billing", "summary": "Customer was charged twice this month."}'
    )
    reworded = '{"category": "Billing ", "summary": "Charged two times in one month."}'
    assert score_answer(example, reworded).correct is True
    assert score_answer(example, '{"category": "billing", "summary": ""}').correct is False


def test_explicit_format_checks_replace_the_inferred_ones():
    example = _example({"max_length": 100}, reference='{"a": 1}')
    score = score_answer(example, "short text")
    assert score.format_ok is True and score.correct is False
    assert not any(c.inferred for c in score.checks)


def test_answer_checks_take_precedence_over_the_reference():
    example = _example({"contains": "Paris"}, reference="Paris is the capital of France.")
    assert score_answer(example, "It's Paris.").correct is True


def test_short_references_are_matched_and_long_ones_left_to_raters():
    assert score_answer(_example(reference="Yes."), "yes").correct is True
    long_reference = " ".join(["word"] * 30)
    assert score_answer(_example(reference=long_reference), long_reference).correct is None


def test_nothing_to_check_gives_none():
    score = score_answer(_example(), "anything")
    assert (score.format_ok, score.correct, score.checks) == (None, None, ())


@pytest.mark.parametrize(
    ("answer", "refused"),
    [
        ("I'm sorry, but I can't help with that.", True),
        ("I cannot assist with this request.", True),
        ("I\u2019m sorry, but I can\u2019t do that.", True),
        ("As an AI language model, I cannot provide that.", True),
        ("Sure. I'm not able to help with that, though.", True),
        ("I'm not able to verify it, but here it is: 42.", False),
        ('{"category": "billing"}', False),
        ("I can't wait to help you with your order!", False),
        ("The password reset link is below.", False),
    ],
)
def test_refusals(answer, refused):
    assert is_refusal(answer) is refused


def test_normalise_ignores_case_spacing_and_final_period():
    assert normalise("  The  Cat sat.\n") == normalise("the cat sat")
