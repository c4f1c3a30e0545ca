"""GRPO's checkable rewards: each preset scores right and wrong answers as documented,
specs are read and refused with the item named, and no hostile answer crashes or hangs a
preset (hypothesis)."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.models.remote_code import trust_folder
from core.rewards.limits import MAX_JSON_DEPTH, REGEX_TIMEOUT_S
from core.rewards.preview import score_answers
from core.rewards.schema_inference import infer_schema
from core.rewards.spec import RewardSpecError, parse_spec, trl_reward_functions
from core.rewards.user_code import UntrustedRewardError

REFERENCE = '{"category": "billing", "priority": "high", "summary": "Charged twice this month."}'
SCHEMA = infer_schema([REFERENCE, REFERENCE.replace("billing", "account")])

EVERY_PRESET = parse_spec(
    json.dumps(
        [
            {"kind": "valid_json"},
            {"kind": "json_schema", "schema": SCHEMA},
            {
                "kind": "keys",
                "required": ["category", "priority"],
                "allowed": {"priority": ["low", "medium", "high", "urgent"]},
            },
            {"kind": "regex", "pattern": r"(a+)+$", "full": False},
            {"kind": "reference_match", "field": "category", "weight": 2},
            {"kind": "reference_match"},
            {"kind": "length_penalty", "max_chars": 100, "weight": 0.5},
        ]
    )
)


def test_presets_score_right_and_wrong_answers():
    spec = EVERY_PRESET
    right = score_answers(spec, [("p", REFERENCE, REFERENCE)]).answers[0].scores
    assert right == {
        "valid_json": 1.0,
        "json_schema": 1.0,
        "keys": 1.0,
        "regex": 0.0,
        "category_match": 1.0,
        "reference_match": 1.0,
        "length_penalty": 0.0,
    }
    wrong_label = REFERENCE.replace("billing", "shipping").replace("high", "extreme")
    scores = score_answers(spec, [("p", wrong_label, REFERENCE)]).answers[0].scores
    assert scores["category_match"] == 0.0
    assert scores["keys"] == pytest.approx(2 / 3)  # both keys there, priority not allowed
    assert scores["json_schema"] == 0.25  # JSON, but priority is not in the inferred enum
    assert scores["reference_match"] == pytest.approx(1 / 3)  # only the summary is the same
    prose = score_answers(spec, [("p", "It is billing. " * 20, REFERENCE)]).answers[0]
    assert prose.scores["valid_json"] == 0.0 and prose.scores["category_match"] == 0.0
    assert prose.scores["length_penalty"] == -1.0


def test_schema_is_inferred_from_references():
    refs = [REFERENCE, REFERENCE.replace("billing", "account").replace("high", "low"), None]
    schema = infer_schema(refs)
    assert schema["required"] == ["category", "priority", "summary"]
    assert schema["properties"]["summary"] == {"type": "string"}  # free text, no enum
    assert infer_schema(["just text", "more text", REFERENCE]) is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no rewards"),
        ("[{kind: vibes}]", "reward 1: kind 'vibes' is not one of"),
        ("[{kind: valid_json}, {kind: regex, pattern: '('}]", "reward 2 (regex): pattern"),
        ("[{kind: length_penalty}]", "missing option"),
        ("[{kind: valid_json, colour: red}]", "unknown option 'colour'"),
        ("[{kind: valid_json}, {kind: valid_json}]", "two rewards are named valid_json"),
        ("[{kind: valid_json, weight: 0}]", "weight 0"),
        ("[{kind: json_schema, schema: {type: 7}}]", "not a valid JSON Schema"),
        ("[{kind: json_schema, schema: {type: string, pattern: '(a+)+$'}}]", "pattern"),
    ],
)
def test_bad_specs_name_the_item(text, message):
    with pytest.raises(RewardSpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_spec(text)


def test_spec_round_trips_through_the_recipe_text():
    again = parse_spec(EVERY_PRESET.to_text())
    assert [t.as_dict() for t in again.terms] == [t.as_dict() for t in EVERY_PRESET.terms]
    assert again.weights == [1.0, 1.0, 1.0, 1.0, 2.0, 1.0, 0.5]


def test_trl_functions_are_named_and_read_conversational_completions():
    functions = trl_reward_functions(EVERY_PRESET)
    assert [f.__name__ for f in functions][:2] == ["valid_json", "json_schema"]
    completions = [[{"role": "assistant", "content": REFERENCE}], [{"role": "assistant"}]]
    assert functions[4](completions=completions, reference=[REFERENCE, REFERENCE]) == [1.0, 0.0]


def test_user_reward_file_runs_only_after_trust(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    marker = tmp_path / "ran"
    (folder / "score.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "def reward(answer, reference):\n    return 1.0 if 'ok' in answer else 0.0\n"
    )
    text = f"[{{kind: python, file: '{folder / 'score.py'}'}}]"
    with pytest.raises(RewardSpecError, match="trust its folder"):
        parse_spec(text)
    assert not marker.exists()  # nothing of the file was run
    trust_folder(folder)
    spec = parse_spec(text)
    assert marker.exists()
    assert [spec.total(a, None) for a in ("ok", "no")] == [1.0, 0.0]
    (folder / "score.py").write_text("def reward(a, r):\n    return 5\n")  # edited: asks again
    with pytest.raises(RewardSpecError, match="changed"):
        parse_spec(text)


def test_untrusted_error_is_a_value_error():
    assert issubclass(UntrustedRewardError, ValueError)


HOSTILE = [
    "a" * 5_000_000,  # huge
    "[" * 100_000 + "]" * 100_000,  # nests past the parser's recursion limit
    json.dumps(json.loads("[" * (MAX_JSON_DEPTH + 5) + "]" * (MAX_JSON_DEPTH + 5))),
    '{"category": "\ud800billing"}',  # a lone surrogate (invalid unicode)
    '{"category": ' + "9" * 10_000 + "}",  # past Python's int digit limit
    "a" * 40 + "!",  # (a+)+$ backtracks catastrophically on this
    '{"category": ' * 50_000,
    None,
    [{"role": "assistant", "content": 5}],
    "\x00\x01\ufffe",
]


@pytest.mark.parametrize("answer", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_answers_score_without_crashing_or_hanging(answer):
    start = time.monotonic()
    totals = [t.score(answer, REFERENCE) for t in EVERY_PRESET.terms]
    assert all(-1.0 <= value <= 1.0 for value in totals)
    # gross limit: the regex stops at its timeout instead of running for hours
    assert time.monotonic() - start < 20 * REGEX_TIMEOUT_S + 5


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    answer=st.one_of(
        st.text(),
        st.binary().map(lambda b: b.decode("utf-8", "surrogateescape")),
        json_values.map(lambda v: json.dumps(v)),
        st.integers(1, 3000).map(lambda n: "{" * n),
    ),
    reference=st.one_of(st.none(), st.text(), st.just(REFERENCE)),
)
def test_no_answer_crashes_a_preset(answer, reference):
    for term in EVERY_PRESET.terms:
        score = term.score(answer, reference)
        assert isinstance(score, float) and -1.0 <= score <= 1.0
