"""core.dataset.edits: every edit returns its inverse, and the bulk actions do what they say."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from core.dataset import edits
from core.dataset.jsonl import jsonl_bytes
from core.dataset.model import Dataset, Example


def _dataset(n: int = 5) -> Dataset:
    return Dataset.from_conversations(
        [
            [
                {"role": "system", "content": "Answer in JSON."},
                {"role": "user", "content": f"question {i}"},
                {"role": "assistant", "content": f'{{"answer": {i}}}'},
            ]
            for i in range(n)
        ],
        name="t",
    )


def _state(dataset: Dataset) -> bytes:
    return jsonl_bytes(dataset.examples)


def test_typing_in_a_message_is_undone_by_its_inverse():
    dataset = _dataset()
    before = _state(dataset)
    edit = edits.set_message_text(dataset, 2, 1, "a new question")
    inverse = edit.apply(dataset)
    assert dataset.examples[2].messages[1]["content"] == "a new question"
    assert edit.merge_key == ("text", dataset.examples[2].id, 1)
    redo = inverse.apply(dataset)
    assert _state(dataset) == before
    redo.apply(dataset)
    assert dataset.examples[2].messages[1]["content"] == "a new question"


def test_message_edits_keep_the_example_id_and_other_fields():
    example = Example.from_record(
        {
            "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
            "extra": 1,
        }
    )
    dataset = Dataset([example])
    # Each edit is built from the dataset as it is then, as the editor does.
    for build in (
        lambda: edits.set_message_role(dataset, 0, 1, "assistant"),
        lambda: edits.insert_message(dataset, 0),
        lambda: edits.duplicate_message(dataset, 0, 0),
        lambda: edits.move_message(dataset, 0, 1, 0),
        lambda: edits.remove_message(dataset, 0, 0),
        lambda: edits.set_tags(dataset, 0, [" billing ", "billing", "", "refund"]),
        lambda: edits.set_rating(dataset, 0, 4),
        lambda: edits.set_reviewed(dataset, [0], True),
    ):
        build().apply(dataset)
    result = dataset.examples[0]
    assert result.id == example.id
    assert result.record["extra"] == 1
    assert result.tags == ("billing", "refund")
    assert (result.rating, result.reviewed) == (4, True)


def test_a_new_message_takes_the_role_that_comes_next():
    dataset = _dataset(1)
    edits.insert_message(dataset, 0).apply(dataset)
    assert dataset.examples[0].messages[-1] == {"role": "user", "content": ""}
    edits.insert_message(dataset, 0).apply(dataset)
    assert dataset.examples[0].messages[-1]["role"] == "assistant"


def test_insert_remove_and_move_examples_round_trip():
    dataset = _dataset(6)
    before = _state(dataset)
    ids = [e.id for e in dataset.examples]
    remove = edits.remove_examples([4, 1, 1])
    undo_remove = remove.apply(dataset)
    assert [e.id for e in dataset.examples] == [ids[0], ids[2], ids[3], ids[5]]
    undo_remove.apply(dataset)
    assert _state(dataset) == before
    dup = edits.duplicate_examples(dataset, [0, 3])
    undo_dup = dup.apply(dataset)
    assert len(dataset) == 8 and dataset.examples[1].id != ids[0]
    assert dataset.examples[1].messages == dataset.examples[0].messages
    assert dataset.examples[5].messages == dataset.examples[4].messages
    undo_dup.apply(dataset)
    move = edits.MoveExample(0, 4)
    undo_move = move.apply(dataset)
    assert dataset.examples[4].id == ids[0]
    undo_move.apply(dataset)
    assert _state(dataset) == before


def test_many_removals_use_the_fast_path_and_still_invert():
    dataset = _dataset(200)
    before = _state(dataset)
    drop = list(range(0, 200, 3))
    inverse = edits.remove_examples(drop).apply(dataset)
    assert len(dataset) == 200 - len(drop)
    inverse.apply(dataset)
    assert _state(dataset) == before


def test_batch_undoes_in_reverse_order():
    dataset = _dataset(3)
    before = _state(dataset)
    batch = edits.EditBatch(
        (
            edits.add_examples(dataset, [edits.new_example()], at=0),
            edits.MoveExample(0, 3),
        ),
        "two steps",
    )
    inverse = batch.apply(dataset)
    assert dataset.examples[3].messages[0]["content"] == ""
    inverse.apply(dataset)
    assert _state(dataset) == before


def test_find_and_replace_touches_only_assistant_replies():
    dataset = _dataset(4)
    dataset.examples[0] = Example.from_messages(
        [
            {"role": "user", "content": "answer please"},
            {"role": "assistant", "content": 'The answer: {"answer": 0}. ANSWER'},
        ]
    )
    result = edits.replace_in_assistant_replies(dataset, "answer", "result", case_sensitive=True)
    assert result.count == 5 and len(result.edit.changes) == 4
    inverse = result.edit.apply(dataset)
    assert dataset.examples[0].messages[0]["content"] == "answer please"
    assert dataset.examples[0].messages[1]["content"] == 'The result: {"result": 0}. ANSWER'
    inverse.apply(dataset)
    loose = edits.replace_in_assistant_replies(
        dataset, "answer", "x", case_sensitive=False, whole_words=True
    )
    assert loose.count == 6
    missing = edits.replace_in_assistant_replies(dataset, "nowhere", "x")
    assert missing.edit is None and "not found" in missing.summary


def test_replacement_text_is_literal():
    dataset = _dataset(1)
    edits.replace_in_assistant_replies(dataset, "answer", r"\1 \\ $0").edit.apply(dataset)
    assert dataset.examples[0].messages[2]["content"] == r'{"\1 \\ $0": 0}'


def test_one_system_prompt_for_all_replaces_adds_and_removes():
    dataset = _dataset(3)
    dataset.examples.append(
        Example.from_messages(
            [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
        )
    )
    result = edits.set_system_prompt(dataset, "Be brief.")
    assert result.count == 4
    result.edit.apply(dataset)
    assert all(
        e.messages[0] == {"role": "system", "content": "Be brief."} for e in dataset.examples
    )
    assert edits.set_system_prompt(dataset, "Be brief.").edit is None
    removal = edits.set_system_prompt(dataset, "")
    removal.edit.apply(dataset)
    assert all(e.messages[0]["role"] == "user" for e in dataset.examples)


def test_delete_duplicates_keeps_the_first_of_each():
    dataset = _dataset(3)
    copies = [
        dataset.examples[1].duplicate(),
        dataset.examples[0].duplicate(),
        dataset.examples[1].duplicate(),
    ]
    dataset.examples.extend(copies)
    result = edits.remove_duplicates(dataset)
    assert result.count == 3
    first_ids = [e.id for e in dataset.examples[:3]]
    result.edit.apply(dataset)
    assert [e.id for e in dataset.examples] == first_ids
    assert edits.remove_duplicates(dataset).edit is None


def test_a_broken_line_is_repaired_keeping_its_id():
    broken = Example.broken(b'{"messages": [', 7, "Expecting value")
    dataset = Dataset([broken])
    record = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    inverse = edits.replace_example_record(dataset, 0, record).apply(dataset)
    assert not dataset.examples[0].is_broken and dataset.examples[0].id == broken.id
    inverse.apply(dataset)
    assert dataset.examples[0].is_broken


def test_conversations_from_other_pages_are_tagged():
    examples = edits.conversations_as_examples(
        [
            {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
            [{"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}],
        ],
        tag="draft",
    )
    assert [e.tags for e in examples] == [("draft",), ("draft",)]
    assert examples[1].messages[0]["content"] == "q2"


_OPS = st.lists(
    st.tuples(
        st.sampled_from(["text", "role", "add_msg", "del_msg", "add_ex", "del_ex", "move", "tags"]),
        st.integers(0, 50),
        st.integers(0, 50),
        st.text(max_size=8),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(_OPS)
def test_any_sequence_of_edits_undoes_back_to_the_start(ops):
    dataset = _dataset(4)
    start = _state(dataset)
    inverses = []
    states = [start]
    for kind, a, b, text in ops:
        n = len(dataset)
        if n == 0 and kind != "add_ex":
            continue
        i = a % n if n else 0
        messages = dataset.examples[i].messages if n else []
        m = b % len(messages) if messages else None
        if kind == "text" and m is not None:
            edit = edits.set_message_text(dataset, i, m, text)
        elif kind == "role" and m is not None:
            edit = edits.set_message_role(dataset, i, m, ["user", "assistant", "system"][b % 3])
        elif kind == "add_msg":
            edit = edits.insert_message(dataset, i)
        elif kind == "del_msg" and m is not None:
            edit = edits.remove_message(dataset, i, m)
        elif kind == "add_ex":
            edit = edits.add_examples(dataset, [edits.new_example(text or None)], at=(a % (n + 1)))
        elif kind == "del_ex":
            edit = edits.remove_examples([i])
        elif kind == "move":
            edit = edits.MoveExample(i, b % n)
        elif kind == "tags":
            edit = edits.set_tags(dataset, i, text.split(","))
        else:
            continue
        inverses.append(edit.apply(dataset))
        states.append(_state(dataset))
    for inverse, expected in zip(reversed(inverses), reversed(states[:-1])):
        inverse.apply(dataset)
        assert _state(dataset) == expected
    assert _state(dataset) == copy.copy(start)
