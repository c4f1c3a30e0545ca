"""Eval sets from JSONL files: references, checks, clear errors, versions and the size warning."""

import json

import pytest

from core.evaluation.eval_set import (
    Checks,
    EvalSetError,
    eval_set_from_dataset_version,
    eval_set_from_examples,
    load_eval_set_file,
)


def _write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_last_assistant_message_is_the_reference_and_checks_are_read(tmp_path):
    path = _write_jsonl(
        tmp_path / "eval.jsonl",
        [
            {
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Capital of France?"},
                    {"role": "assistant", "content": "Paris"},
                ],
                "checks": {"contains": "Paris", "max_length": 50},
                "id": "q1",
                "category": "facts",
            },
            {"messages": [{"role": "user", "content": "Say hi"}]},
        ],
    )
    eval_set = load_eval_set_file(path)
    first, second = eval_set.examples
    assert first.reference == "Paris"
    assert [m["role"] for m in first.prompt] == ["system", "user"]
    assert first.checks.contains == ("Paris",)
    assert first.checks.max_length == 50
    assert (first.example_id, first.category, first.source_line) == ("q1", "facts", 1)
    assert first.user_text == "Capital of France?"
    assert second.reference is None and second.index == 1
    assert eval_set.name == "eval"


def test_errors_name_the_file_line_and_field_and_are_reported_together(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"messages": [{"role": "user", "content": "ok"}]}\n'
        "not json\n"
        '{"messages": [{"role": "robot", "content": "x"}]}\n'
        '{"messages": [{"role": "assistant", "content": "only an answer"}]}\n'
        '{"messages": [{"role": "user", "content": "x"}], "checks": {"regexp": "a"}}\n'
        '{"messages": [{"role": "user", "content": "x"}], "checks": {"regex": "("}}\n',
        encoding="utf-8",
    )
    with pytest.raises(EvalSetError) as error:
        load_eval_set_file(path)
    message = str(error.value)
    assert f"{path}:2: not valid JSON" in message
    assert f"{path}:3: messages[0].role is 'robot'" in message
    assert f"{path}:4: the prompt must end with a user message" in message
    assert "unknown check 'regexp'" in message and "known checks" in message
    assert f"{path}:6: checks: regex '(' is not valid" in message
    assert ":1:" not in message


def test_missing_file_and_empty_file_say_what_to_do(tmp_path):
    with pytest.raises(EvalSetError, match="does not exist"):
        load_eval_set_file(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(EvalSetError, match="holds no examples"):
        load_eval_set_file(tmp_path / "empty.jsonl")


def test_checks_are_validated():
    with pytest.raises(ValueError, match="not a valid JSON Schema"):
        Checks(json_schema={"type": "no-such-type"})
    with pytest.raises(ValueError, match="max_length"):
        Checks.from_dict({"max_length": "ten"})
    with pytest.raises(ValueError, match="must be a text or a list"):
        Checks.from_dict({"contains": [1, 2]})
    checks = Checks.from_dict({"must_not_contain": ["sorry", "AI"], "valid_json": True})
    assert checks.has_format_checks and not checks.has_answer_checks
    assert Checks.from_dict(checks.as_dict()) == checks


def test_content_hash_versions_the_set():
    records = [{"messages": [{"role": "user", "content": f"q{i}"}]} for i in range(3)]
    first = eval_set_from_examples("set", "memory", records)
    same = eval_set_from_examples("renamed", "elsewhere", records)
    records[1]["checks"] = {"contains": "x"}
    changed = eval_set_from_examples("set", "memory", records)
    assert first.content_hash == same.content_hash  # the name is not part of the content
    assert first.content_hash != changed.content_hash
    assert len(first.content_hash) == 16


def test_round_trip_through_jsonl(tmp_path):
    records = [
        {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": '{"a": 1}'},
            ],
            "checks": {"json_schema": {"type": "object"}, "regex": "\\{.*\\}"},
            "category": "json",
        }
    ]
    eval_set = eval_set_from_examples("set", "memory", records)
    (tmp_path / "copy.jsonl").write_text(eval_set.to_jsonl(), encoding="utf-8")
    assert load_eval_set_file(tmp_path / "copy.jsonl").content_hash == eval_set.content_hash


def test_small_sets_get_a_warning_and_recommended_sizes_do_not():
    small = eval_set_from_examples(
        "s", "m", [{"messages": [{"role": "user", "content": "q"}]}] * 12
    )
    assert "12 examples" in small.size_warning and "100-200" in small.size_warning
    enough = eval_set_from_examples(
        "s", "m", [{"messages": [{"role": "user", "content": f"q{i}"}]} for i in range(100)]
    )
    assert enough.size_warning is None


def test_dataset_validation_split_as_eval_set(project):
    from core.dataset.model import Dataset, Example
    from core.dataset.split import SplitConfig
    from core.dataset.versions import save_version

    with pytest.raises(EvalSetError, match="Choose a saved dataset version"):
        eval_set_from_dataset_version(project, 987654)
    examples = [
        Example.from_messages(
            [
                {"role": "user", "content": f"ticket {i}"},
                {"role": "assistant", "content": f'{{"id": {i}}}'},
            ]
        )
        for i in range(20)
    ]
    version = save_version(
        project, Dataset(examples, name="tickets"), split=SplitConfig(valid_fraction=0.25, seed=1)
    )
    eval_set = eval_set_from_dataset_version(project, version.id)
    assert len(eval_set.examples) == version.n_valid > 0
    assert all(e.reference.startswith('{"id"') for e in eval_set.examples)
    assert "validation" in eval_set.name


def test_demo_project_gets_the_validation_split_as_its_eval_set(project):
    from core.dataset.model import Dataset, Example
    from core.dataset.split import SplitConfig
    from core.dataset.versions import save_version
    from core.evaluation.demo import DEMO_EVAL_SET_NAME, populate
    from core.evaluation.store import list_eval_sets

    records = [
        [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]
        for i in range(20)
    ]
    save_version(
        project,
        Dataset([Example.from_messages(m) for m in records], name="demo"),
        split=SplitConfig(valid_fraction=0.2, seed=0),
    )
    populate(project)
    stored = list_eval_sets(project)
    assert [s.name for s in stored] == [DEMO_EVAL_SET_NAME] and stored[0].n_examples == 4


@pytest.mark.parametrize("field", ["reference", "ideal", "expected", "answer", "completion"])
def test_a_reference_in_a_top_level_field_other_tools_use_is_scored(tmp_path, field):
    from core.evaluation.checks import score_answer
    from core.evaluation.metrics import summarize
    from core.evaluation.results import ExampleOutput

    path = _write_jsonl(
        tmp_path / "eval.jsonl",
        [
            {"messages": [{"role": "user", "content": "Capital of France?"}], field: "Paris"},
            {"messages": [{"role": "user", "content": "Two plus two?"}], field: 4},
        ],
    )
    eval_set = load_eval_set_file(path)
    assert [e.reference for e in eval_set.examples] == ["Paris", "4"]
    assert eval_set.scoring_warning is None
    outputs = [
        ExampleOutput(e.index, answer, 1, True, score_answer(e, answer))
        for e, answer in zip(eval_set.examples, ["Paris", "five"])
    ]
    assert summarize(outputs).as_dict()["accuracy"] == pytest.approx(0.5)


def test_conflicting_references_are_an_error_and_no_reference_says_why_not_scored(tmp_path):
    path = _write_jsonl(
        tmp_path / "eval.jsonl",
        [
            {
                "messages": [
                    {"role": "user", "content": "Capital of France?"},
                    {"role": "assistant", "content": "Paris"},
                ],
                "ideal": "Lyon",
            }
        ],
    )
    with pytest.raises(EvalSetError, match=r"eval\.jsonl:1: .*'ideal'.*assistant"):
        load_eval_set_file(path)
    unscored = eval_set_from_examples(
        "s", "m", [{"messages": [{"role": "user", "content": "Hi"}], "gold": "Hello"}]
    )
    warning = unscored.scoring_warning
    assert "accuracy is not scored" in warning and "'reference'" in warning
    assert "'gold'" in warning  # the unknown field the user probably meant
