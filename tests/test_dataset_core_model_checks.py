"""Background checks: replies the base model already gives, and distribution vs production."""

from __future__ import annotations

import pytest

from core.dataset.demo import demo_dataset
from core.dataset.model import Dataset
from core.dataset.progress import Cancelled
from core.dataset.validation.base_model import (
    EchoCheckConfig,
    find_base_model_echoes,
    model_generator,
    reply_similarity,
)
from core.dataset.validation.distribution import compare_with_production, read_production_queries


def conversation(question: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


def test_reply_similarity_is_word_based():
    assert reply_similarity("The cat sat.", "the cat sat") > 0.8
    assert reply_similarity("The cat sat.", "A dog ran away quickly") < 0.3


def test_the_check_runs_on_a_model_folder_with_progress_and_cancel(tiny_model_dir):
    questions = ["hello world", "password reset", "billing question"]
    dataset = Dataset.from_conversations(
        [conversation(q, f"A careful expert answer about {q}.") for q in questions]
    )
    reports = []
    result = find_base_model_echoes(
        dataset,
        tiny_model_dir,
        EchoCheckConfig(max_new_tokens=8, batch_size=2),
        progress=lambda fraction, message: reports.append(fraction),
    )
    # the random tiny model says nothing like an expert: nothing flagged, all three compared
    assert sorted(result.similarities) == [0, 1, 2]
    assert [f.code for f in result.findings] == ["base_model_echo_summary"]
    assert "0 of 3" in result.findings[0].message and reports[-1] == 1.0
    with pytest.raises(Cancelled):
        find_base_model_echoes(dataset, tiny_model_dir, cancelled=lambda: True)


@pytest.mark.slow
def test_a_reply_the_bundled_model_already_gives_is_flagged():
    from core.models.bundled import ensure_bundled_model

    generate, _ = model_generator(ensure_bundled_model(), max_new_tokens=12)
    question = "What is the capital of France?"
    own = generate([conversation(question, "")[:1]], [12])[0]
    assert "Paris" in own
    dataset = Dataset.from_conversations(
        [
            conversation("Name a colour.", "Vermilion: the red of Chinese lacquer."),
            conversation(question, own),
        ]
    )
    result = find_base_model_echoes(dataset, generate, EchoCheckConfig(max_new_tokens=12))
    echoes = [f for f in result.findings if f.code == "base_model_echo"]
    assert [f.example for f in echoes] == [1]
    assert "almost word for word" in echoes[0].message and result.similarities[0] < 0.5


def test_distribution_mismatch_names_the_biggest_gap():
    dataset = demo_dataset()
    # production is mostly about shipping, while the dataset has every category
    production = [
        "Where is my order NW-1? Tracking has not moved in a week.",
        "The package never arrived, tracking says delivered.",
        "My box came damaged, the screen is cracked.",
        "Can I change the delivery address for my order?",
    ] * 10 + ["I was charged twice this month."] * 2
    report = compare_with_production(dataset, production)
    assert report.topic_source == "tags"
    shipping = next(row for row in report.topic_mix if row.label == "shipping")
    assert shipping.production > 0.8 and shipping.dataset < 0.3
    mismatch = next(f for f in report.findings if f.code == "distribution_mismatch")
    assert "'shipping'" in mismatch.message
    similar = compare_with_production(dataset, [e.messages[1]["content"] for e in dataset][:60])
    assert [f.code for f in similar.findings] == ["distribution_ok"]
    unrelated = compare_with_production(dataset, ["quantum chromodynamics lattice gauge"] * 5)
    assert unrelated.uncovered_share == 1.0
    assert "production_not_covered" in [f.code for f in unrelated.findings]


def test_production_queries_are_read_from_text_csv_and_jsonl(tmp_path):
    (tmp_path / "q.txt").write_text("first query\n\nsecond query\n")
    (tmp_path / "q.csv").write_text('id,query\n1,"hello, there"\n2,bye\n')
    (tmp_path / "q.jsonl").write_text(
        '{"messages": [{"role": "user", "content": "from chat"}]}\n{"query": "plain"}\n'
    )
    assert read_production_queries(tmp_path / "q.txt") == ["first query", "second query"]
    assert read_production_queries(tmp_path / "q.csv") == ["hello, there", "bye"]
    assert read_production_queries(tmp_path / "q.jsonl") == ["from chat", "plain"]
