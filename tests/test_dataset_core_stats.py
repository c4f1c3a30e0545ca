"""Statistics for the panel and the estimator, one-click fixes, and search."""

from __future__ import annotations

from core.dataset.demo import populate
from core.dataset.fixes import fix_example
from core.dataset.jsonl import read_jsonl
from core.dataset.model import Dataset, Example
from core.dataset.search import matching_rows
from core.dataset.stats import dataset_statistics, dataset_token_stats


def conversation(question: str, answer: str, system: str | None = None) -> list[dict]:
    head = [{"role": "system", "content": system}] if system else []
    return [*head, {"role": "user", "content": question}, {"role": "assistant", "content": answer}]


def test_token_stats_of_a_version_count_its_training_file(project, tiny_model_dir):
    version = populate(project)
    estimated = dataset_token_stats(version)
    assert estimated["examples"] == version.n_train and estimated["estimated"] is True
    exact = dataset_token_stats(version, tokenizer=str(tiny_model_dir))
    assert exact["estimated"] is False and exact["examples"] == version.n_train
    assert exact["tokens_per_epoch"] == round(exact["avg_tokens"] * exact["examples"])
    assert exact["max_tokens"] >= exact["p95_tokens"] >= 1


def test_statistics_give_counts_mix_and_histogram():
    dataset = Dataset.from_conversations(
        [conversation("q", '{"a": 1}', system="S")] * 3
        + [conversation("q", "## Title\n- item"), conversation("long " * 200, "plain words")]
    )
    stats = dataset_statistics(dataset, max_seq_length=64)
    assert stats["examples"] == 5 and stats["roles"] == {"system": 3, "user": 5, "assistant": 5}
    assert stats["format_mix"] == {"json": 3, "markdown": 1, "prose": 1}
    assert sum(stats["histogram_counts"]) == 5 and stats["over_max_seq_length"] == 1
    assert stats["tokens_per_epoch"] == int(stats["tokens"].sum())


def test_fixes_trim_whitespace_and_set_the_common_system_prompt():
    example = Example.from_messages(conversation(" q ", "answer \n"))
    fixed = fix_example(example, "whitespace")
    assert [m["content"] for m in fixed.messages] == ["q", "answer"] and fixed.id == example.id
    assert fix_example(fixed, "whitespace") is None
    with_prompt = fix_example(example, "system_prompt_differs", system_prompt="Be brief.")
    assert with_prompt.messages[0] == {"role": "system", "content": "Be brief."}
    assert fix_example(example, "format_inconsistent") is None  # no certain fix


def test_search_matches_message_text_not_keys_and_handles_escapes(tmp_path):
    import json

    path = tmp_path / "d.jsonl"  # escaped non-ASCII, as most tools write it
    path.write_text(
        json.dumps({"messages": conversation("Where is my café?", "Around the corner.")})
        + "\n"
        + json.dumps({"messages": conversation("hi", "user guide")})
        + "\n"
    )
    dataset = read_jsonl(path)
    assert dataset[0].raw is not None and b"\\u00e9" in dataset[0].raw
    assert matching_rows(dataset, "CAFÉ") == [0]
    assert matching_rows(dataset, "user") == [1]  # the key "role": "user" does not count
    assert matching_rows(dataset, "corner", roles=["user"]) == []
    assert matching_rows(dataset, "") == [0, 1] and matching_rows(dataset, "hi", start=1) == [1]
