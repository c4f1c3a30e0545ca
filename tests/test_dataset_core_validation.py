"""Validation: every error and pitfall is found, placed (file, line, example, message) and explained."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.dataset.jsonl import read_jsonl
from core.dataset.model import Dataset, Example
from core.dataset.split import SplitConfig, split_indices
from core.dataset.validation import (
    ValidationOptions,
    check_example,
    check_train_valid_overlap,
    validate_dataset,
)
from core.dataset.validation.duplicates import dedup_text, near_duplicate_pairs

SYSTEM = "You are the support assistant of Acme. Reply with JSON only."


def chat(question: str, answer: str, system: str | None = SYSTEM) -> dict:
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return {"messages": messages}


def varied(n: int) -> list[dict]:
    topics = ["invoice", "login", "refund", "delivery", "password", "upgrade", "crash", "export"]
    return [
        chat(
            f"Ticket {i}: my {topics[i % 8]} issue number {i * 7919 % 1000} started on day {i}.",
            json.dumps({"category": topics[i % 8], "priority": "low", "summary": f"case {i}"}),
        )
        for i in range(n)
    ]


def codes(report, example=None):
    return sorted({f.code for f in report.findings if example is None or f.example == example})


def write(tmp_path, lines: list) -> Dataset:
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return read_jsonl(path)


def test_structural_errors_each_have_a_place_and_a_fix(tmp_path):
    bad = [
        chat("fine", "{}"),
        "{oops",
        {"no_messages": []},
        {"messages": []},
        {"messages": [{"role": "user", "content": "q"}, {"role": "robot", "content": "a"}]},
        {"messages": [{"role": "user", "content": "q"}]},
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "  "}]},
        {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "system", "content": "s"},
                {"role": "assistant", "content": "a"},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
                {"role": "user", "content": "more?"},
            ]
        },
        {"messages": [{"role": "assistant", "content": "a"}]},
        {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
                {"role": "tool", "content": "42"},
                {"role": "assistant", "content": "42"},
            ]
        },
    ]
    report = validate_dataset(write(tmp_path, bad))
    expected = {
        1: ["invalid_json"],
        2: ["missing_messages"],
        3: ["empty_messages"],
        4: ["no_assistant", "unknown_role"],
        5: ["no_assistant"],
        6: ["empty_assistant"],
        7: ["role_order"],
        8: ["role_order"],
        9: ["role_order"],
        10: ["role_order"],
    }
    for example, wanted in expected.items():
        assert [c for c in codes(report, example) if c != "length_outlier"] == wanted, example
    # tool calls are fine; all that is said about the two good examples is that their
    # system prompts differ (one has one, the other none)
    assert codes(report, 0) + codes(report, 11) == ["system_prompt_differs"]
    unknown = next(f for f in report.findings if f.code == "unknown_role")
    assert (unknown.line, unknown.example, unknown.message_index) == (5, 4, 1)
    assert unknown.file.endswith("data.jsonl") and "robot" in unknown.message and unknown.fix
    assert report.has_errors and report.severity_of(1) == "error" and report.severity_of(0) is None


def test_exact_and_near_duplicates_and_train_valid_overlap(tmp_path):
    records = varied(60)
    near = json.loads(json.dumps(records[3]))
    near["messages"][-1]["content"] = near["messages"][-1]["content"][:-2] + '!"}'
    records += [records[5], near]
    dataset = Dataset.from_records(records)
    report = validate_dataset(
        dataset, ValidationOptions(split=SplitConfig(valid_fraction=0.3, seed=1))
    )
    duplicate = next(f for f in report.findings if f.code == "duplicate")
    assert duplicate.example == 60 and "example 6" in duplicate.message and duplicate.fixable
    near_finding = next(f for f in report.findings if f.code == "near_duplicate")
    assert near_finding.example == 61 and "example 4" in near_finding.message
    split = SplitConfig(valid_fraction=0.3, seed=1)
    _train_idx, valid_idx = split_indices(dataset.examples, split)
    crossing = {i for i, j in ((60, 5), (61, 3)) if (i in valid_idx) != (j in valid_idx)}
    overlap = {f.example for f in report.findings if f.code == "train_valid_overlap"}
    assert len(overlap) == len(crossing)
    # two separate files: the copy in validation is named
    train = Dataset.from_records(records[:60])
    valid = Dataset.from_records([records[5], varied(61)[60], near])
    leaks = check_train_valid_overlap(train, valid)
    assert [f.example for f in leaks] == [60, 62]
    assert "validation loss" in leaks[0].message and "training example 6" in leaks[0].message


def test_near_duplicates_scale_linearly_and_find_planted_pairs():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(3000)]
    texts = []
    for _ in range(3000):
        texts.append(
            dedup_text([" ".join(rng.choice(words, 30))], [" ".join(rng.choice(words, 60))])
        )
    planted = {(i, i + 1) for i in range(0, 3000, 300)}
    for i, _ in planted:
        texts[i + 1] = texts[i][:-12] + b" ok thanks "
    found = {(a, b) for a, b, _ in near_duplicate_pairs(texts, 0.8)}
    assert planted <= found and len(found) < 20


def test_inconsistent_reply_formats_sign_offs_and_whitespace():
    records = varied(40)
    records.append(chat("prose please", "Sure, the invoice was sent on Monday."))
    records.append(chat("markdown", "## Answer\n- first\n- second"))
    signed = varied(1)[0]
    signed["messages"][-1]["content"] += " Hope this helps!"
    records.append(signed)
    spaced = chat("spaces", '{"category": "login"}  ')
    records.append(spaced)
    report = validate_dataset(Dataset.from_records(records))
    inconsistent = [f for f in report.findings if f.code == "format_inconsistent"]
    # JSON followed by a sign-off is no longer JSON: 42 is inconsistent twice over
    assert [f.example for f in inconsistent] == [40, 41, 42]
    assert "prose" in inconsistent[0].message and "json" in inconsistent[0].message
    assert [f.example for f in report.findings if f.code == "sign_off_inconsistent"] == [42]
    whitespace = next(f for f in report.findings if f.code == "whitespace")
    assert (whitespace.example, whitespace.message_index, whitespace.fixable) == (43, 2, True)
    assert report.stats["format_mix"] == {"json": 41, "markdown": 1, "prose": 2}


def test_several_system_prompts_and_length_outliers():
    records = varied(40)
    records[7] = dict(
        records[7],
        messages=[{"role": "system", "content": "You are a pirate."}, *records[7]["messages"][1:]],
    )
    records[8] = dict(records[8], messages=records[8]["messages"][1:])
    records[9] = chat("long " * 400, '{"category": "z"}')
    report = validate_dataset(Dataset.from_records(records))
    assert [f.example for f in report.findings if f.code == "system_prompt_differs"] == [7, 8]
    summary = next(f for f in report.findings if f.code == "system_prompts")
    assert "3 different system prompts" in summary.message
    assert [f.example for f in report.findings if f.code == "length_outlier"] == [9]


def test_token_lengths_with_the_models_tokenizer(tiny_model_dir):
    records = [*varied(30), chat("word " * 600, '{"category": "long"}')]
    report = validate_dataset(
        Dataset.from_records(records),
        ValidationOptions(max_seq_length=512, tokenizer=str(tiny_model_dir)),
    )
    too_long = [f for f in report.findings if f.code == "too_long"]
    assert [f.example for f in too_long] == [30]
    assert "max_seq_length 512 cuts its last" in too_long[0].message
    summary = next(f for f in report.findings if f.code == "too_long_summary")
    assert summary.message.startswith("1 of 31 examples")
    assert report.stats["tokens_estimated"] is False and report.stats["tokens"][30] > 512


def test_too_few_examples_uses_the_recorded_decision(project):
    """The Decide wizard's recorded need (a domain task: 500-2,000 examples) is what the
    size check holds the data to."""
    from core.decide.answers import Answers
    from core.decide.store import save_decision

    small = Dataset.from_records(varied(60))
    assert "too_few_examples" not in codes(validate_dataset(small, project=project))
    save_decision(project, Answers(("domain_reasoning",), "measured", "yes", "200_to_500", True))
    finding = next(
        f for f in validate_dataset(small, project=project).findings if f.code == "too_few_examples"
    )
    assert "domain" in finding.message and "440" in finding.fix


def test_check_example_gives_the_live_findings_of_one_edited_example():
    dataset = Dataset.from_records(varied(3))
    dataset.examples[1] = dataset[1].replace(
        messages=[{"role": "user", "content": "q "}, {"role": "user", "content": "again"}]
    )
    assert sorted(f.code for f in check_example(dataset, 1)) == [
        "no_assistant",
        "role_order",
        "whitespace",
    ]
    assert check_example(dataset, 0) == []


def test_options_are_validated():
    with pytest.raises(ValueError, match="max_seq_length"):
        ValidationOptions(max_seq_length=4)
    assert ValidationOptions.__dataclass_fields__["max_seq_length"].metadata["help"]


def test_an_example_built_in_memory_with_a_parse_error_is_an_error():
    dataset = Dataset(
        [Example.broken(b"{x", None, "bad"), Example.from_messages(chat("q", "a")["messages"])]
    )
    report = validate_dataset(dataset)
    assert report.severity_of(0) == "error"
