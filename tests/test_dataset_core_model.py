"""The dataset model, JSONL reading/writing, the split and versions."""

from __future__ import annotations

import json

import pytest

from core.dataset.jsonl import read_jsonl, write_jsonl
from core.dataset.model import Dataset, Example
from core.dataset.split import SplitConfig, split_indices
from core.dataset.versions import (
    DatasetHasErrors,
    diff_versions,
    find_version,
    list_versions,
    load_version,
    save_version,
)


def conversation(question: str, answer: str, system: str | None = None) -> list[dict]:
    messages = [{"role": "system", "content": system}] if system else []
    return [
        *messages,
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer},
    ]


ODD_LINE = (
    '{"id_from_tool": 7, "messages": [{"role": "user", "content": "caf\\u00e9?", "name": "x"}, '
    '{"role": "assistant", "content": "yes", "weight": 1}], "score": 1.50, "tools": []}'
)


def test_round_trip_keeps_every_field_key_order_and_formatting(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(ODD_LINE + "\n" + json.dumps({"messages": conversation("a", "b")}) + "\n")
    dataset = read_jsonl(source)
    assert len(dataset) == 2 and not dataset.load_findings
    write_jsonl(tmp_path / "out.jsonl", dataset, studio_fields=False)
    assert (tmp_path / "out.jsonl").read_bytes() == source.read_bytes()
    # an edited example keeps unknown fields and key order, and its id
    example = dataset[0]
    edited = example.replace(
        messages=[*example.messages[:1], {"role": "assistant", "content": "no"}]
    )
    assert list(edited.record) == ["id_from_tool", "messages", "score", "tools"]
    assert edited.messages[0]["name"] == "x" and edited.id == example.id


def test_malformed_lines_are_reported_kept_and_written_back(tmp_path):
    source = tmp_path / "in.jsonl"
    good = json.dumps({"messages": conversation("q", "a")})
    source.write_bytes(
        good.encode() + b"\n{not json\n\xff\xfe garbage\n[1]\n\n" + good.encode() + b"\r\n"
    )
    dataset = read_jsonl(source)
    codes = [(f.line, f.code) for f in dataset.load_findings]
    assert codes == [(2, "invalid_json"), (3, "bad_encoding"), (4, "not_an_object")]
    assert [e.is_broken for e in dataset] == [False, True, True, True, False]
    assert dataset[4].line == 6 and dataset[4].first_user_text == "q"
    write_jsonl(tmp_path / "out.jsonl", dataset, studio_fields=False)
    assert (tmp_path / "out.jsonl").read_bytes() == (
        good.encode() + b"\n{not json\n\xff\xfe garbage\n[1]\n" + good.encode() + b"\n"
    )


def test_bom_and_utf16_are_errors_but_the_data_is_kept(tmp_path):
    text = json.dumps({"messages": conversation("é", "ü")}, ensure_ascii=False) + "\n"
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    utf16 = tmp_path / "utf16.jsonl"
    utf16.write_text(text, encoding="utf-16")
    for path, code in ((bom, "bom"), (utf16, "bad_encoding")):
        dataset = read_jsonl(path)
        assert [f.code for f in dataset.load_findings] == [code]
        assert dataset[0].first_user_text == "é"
        write_jsonl(path, dataset)
        assert read_jsonl(path).load_findings == []


def test_metadata_is_stored_under_its_own_key_and_kept_out_of_training(tmp_path):
    example = Example.from_messages(conversation("q", "a"), tags=["billing"]).replace(
        reviewed=True, rating=4
    )
    write_jsonl(tmp_path / "d.jsonl", [example])
    again = read_jsonl(tmp_path / "d.jsonl")[0]
    assert (again.id, again.tags, again.reviewed, again.rating) == (
        example.id,
        ("billing",),
        True,
        4,
    )
    assert "finetune_studio" not in again.record
    assert again.training_record() == {"messages": conversation("q", "a")}


def test_split_is_reproducible_stable_under_additions_and_stratified():
    examples = [
        Example.from_messages(
            conversation(f"q{i}", "a"), tags=["rare" if i % 10 == 0 else "common"]
        )
        for i in range(200)
    ]
    config = SplitConfig(valid_fraction=0.2, seed=7, stratify_by_tag=True)
    train, valid = split_indices(examples, config)
    assert (train, valid) == split_indices(list(examples), config)
    assert len(valid) == 40 and sorted(train + valid) == list(range(200))
    assert sum(examples[i].tags == ("rare",) for i in valid) == 4  # 20% of the 20 rare ones
    assert split_indices(examples, SplitConfig(valid_fraction=0.2, seed=8))[1] != valid
    plain = SplitConfig(valid_fraction=0.2, seed=7)
    _, before = split_indices(examples, plain)
    more = examples + [Example.from_messages(conversation(f"n{i}", "a")) for i in range(20)]
    _, after = split_indices(more, plain)
    # a stable hash ranking: most old validation examples stay in validation
    assert len(set(before) & set(after)) >= 30
    with pytest.raises(ValueError, match="valid_fraction"):
        SplitConfig(valid_fraction=0.9)


def test_versions_are_numbered_immutable_hashed_and_diffable(project):
    dataset = Dataset.from_conversations(
        [conversation(f"question {i}", f"answer {i}") for i in range(30)], name="support"
    )
    v1 = save_version(project, dataset, note="first", split=SplitConfig(valid_fraction=0.1))
    assert (v1.label, v1.n_train, v1.n_valid, v1.note) == ("v1", 27, 3, "first")
    lines = v1.train_path.read_text().splitlines()
    assert len(lines) == 27 and set(json.loads(lines[0])) == {"messages"}
    assert not v1.train_path.stat().st_mode & 0o222  # read-only (root could still write)
    dataset.examples[0] = dataset[0].replace(messages=conversation("question 0", "better"))
    del dataset.examples[1]
    dataset.examples.append(Example.from_messages(conversation("new", "one")))
    v2 = save_version(project, dataset, note="second")
    assert v2.label == "v2" and v2.content_hash != v1.content_hash
    diff = diff_versions(v1, v2)
    assert (len(diff.added), len(diff.removed), len(diff.changed), diff.unchanged) == (1, 1, 1, 28)
    assert [v.label for v in list_versions(project)] == ["v1", "v2"]
    assert load_version(project, v1.id) == v1 and find_version(project, "v2") == v2
    train, valid = v2.load_split()
    assert len(train) == v2.n_train and len(valid) == v2.n_valid
    # same content, same hash
    v3 = save_version(project, v2.load_dataset(), split=v2.split)
    assert v3.content_hash == v2.content_hash


def test_a_dataset_with_errors_is_not_saved(project):
    dataset = Dataset.from_conversations([[{"role": "user", "content": "no answer"}]], name="bad")
    with pytest.raises(DatasetHasErrors, match="no assistant"):
        save_version(project, dataset)
    assert list_versions(project) == []
    assert not any((project.datasets_dir / "bad").glob("v*"))
