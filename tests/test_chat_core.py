"""Chat without the GUI: streamed replies from real models, seeds, Stop, conversations in
SQLite, and answers turned into eval-set lines and dataset drafts."""

from __future__ import annotations

import dataclasses
import json

import pytest
from chat_adapter import ANSWER, bare_greedy_reply, train_chat_adapter

from core.chat.examples import append_to_eval_set, dataset_drafts, example_record
from core.chat.generation import (
    ChatSettings,
    ChatSettingsError,
    conversation_messages,
    cpu_thread_count,
    generate_reply,
    generation_threads,
    load_chat_model,
)
from core.chat.store import (
    NEW_TITLE,
    ConversationNotFound,
    add_turn,
    create_conversation,
    delete_conversation,
    edit_answer,
    list_conversations,
    load_conversation,
    rename_conversation,
    save_answer,
    save_settings,
)
from core.evaluation.eval_set import EvalSetError, load_eval_set_file
from core.evaluation.models import baseline_spec, run_spec
from core.handoff import DraftsForDataset
from core.project import open_project


@pytest.fixture(scope="module")
def adapter_dir(tiny_model_dir, tmp_path_factory):
    return train_chat_adapter(tiny_model_dir, tmp_path_factory.mktemp("chat-adapter") / "final")


@pytest.fixture(scope="module")
def tuned(tiny_model_dir, adapter_dir):
    return load_chat_model(run_spec(adapter_dir, base_model=tiny_model_dir), device="cpu")


@pytest.fixture(scope="module")
def base(tiny_model_dir):
    return load_chat_model(baseline_spec(tiny_model_dir), device="cpu")


def test_a_streamed_reply_equals_a_plain_greedy_generate(tuned, tiny_model_dir, adapter_dir):
    messages = conversation_messages("", [], "ticket refund")
    pieces = []
    reply = generate_reply(tuned, messages, ChatSettings(max_new_tokens=24), on_text=pieces.append)
    assert len(pieces) > 3  # it streamed, piece by piece
    assert "".join(pieces) == reply.text == ANSWER
    assert reply.text == bare_greedy_reply(tiny_model_dir, adapter_dir, messages, 24)
    assert reply.finished and not reply.stopped and 0 < reply.n_tokens < 24
    assert reply.first_token_seconds is not None and reply.first_token_seconds <= reply.seconds
    assert reply.tokens_per_second > 0


def test_the_same_seed_gives_the_same_sampled_reply(base):
    messages = conversation_messages("Be brief.", [], "hello world")

    def sampled(seed):
        settings = ChatSettings(temperature=1.5, top_p=1.0, max_new_tokens=16, seed=seed)
        return generate_reply(base, messages, settings).text

    first = sampled(7)
    assert sampled(7) == first
    assert len({sampled(seed) for seed in (1, 2, 3)} | {first}) > 1  # the seed matters


def test_stop_ends_a_reply_within_a_token(base):
    pieces = []
    reply = generate_reply(
        base,
        conversation_messages("", [], "hello"),
        ChatSettings(max_new_tokens=200),
        on_text=pieces.append,
        cancelled=lambda: len(pieces) >= 3,
    )
    assert reply.stopped and not reply.finished
    assert 3 <= reply.n_tokens <= 4 and reply.text == "".join(pieces)


def test_cpu_generation_leaves_a_core_free_on_small_machines():
    import torch

    assert [cpu_thread_count(n) for n in (1, 2, 4, 8)] == [1, 1, 3, 8]
    before = torch.get_num_threads()
    with generation_threads("cpu") as threads:
        assert torch.get_num_threads() == threads == cpu_thread_count()
    assert torch.get_num_threads() == before


def test_settings_out_of_range_say_the_range():
    with pytest.raises(ChatSettingsError, match="temperature must be between 0 and 5"):
        ChatSettings(temperature=-1)
    with pytest.raises(ChatSettingsError, match="top_p must be above 0"):
        ChatSettings(top_p=0)
    with pytest.raises(ChatSettingsError, match="max_new_tokens"):
        ChatSettings(max_new_tokens=0)
    assert ChatSettings.from_dict(ChatSettings(seed=3).as_dict()) == ChatSettings(seed=3)


def test_conversations_are_kept_renamed_and_deleted(project):
    settings = ChatSettings(system_prompt="Answer in JSON.", seed=4)
    first = create_conversation(project, settings)
    turn = add_turn(project, first, "Where is my parcel?")
    save_answer(project, turn.id, 0, "tiny", "It is on its way.", 5, 0.5)
    save_answer(project, turn.id, 1, "run-1", ANSWER, 8, 0.25, stopped=True)
    save_answer(project, turn.id, 0, "tiny", "It is on its way.", 5, 0.5, cut_off=True)
    second_turn = add_turn(project, first, "Thanks")
    save_answer(project, second_turn.id, 1, "run-1", "You are welcome.", 4, 0.1)
    second = create_conversation(project)

    reopened = open_project(project.folder)
    conversation = load_conversation(reopened, first)
    assert conversation.title == "Where is my parcel?" and conversation.settings == settings
    assert [t.prompt for t in conversation.turns] == ["Where is my parcel?", "Thanks"]
    assert conversation.turns[0].answers[1].stopped
    assert conversation.turns[0].answers[0].cut_off and not conversation.turns[0].answers[1].cut_off
    assert conversation.turns[0].answers[1].tokens_per_second == 32
    assert conversation.history(0) == [("Where is my parcel?", "It is on its way.")]
    assert conversation.history(1, before=1) == [("Where is my parcel?", ANSWER)]
    assert list_conversations(reopened)[0].id == second
    assert {c.id: c.n_turns for c in list_conversations(reopened)} == {first: 2, second: 0}

    edit_answer(reopened, turn.id, 0, "It arrives tomorrow.")
    edited = load_conversation(reopened, first).turns[0].answers[0]
    assert edited.text == "It arrives tomorrow." and edited.edited
    rename_conversation(reopened, first, "  Parcel   questions ")
    save_settings(reopened, first, ChatSettings(temperature=0.7))
    conversation = load_conversation(reopened, first)
    assert conversation.title == "Parcel questions"
    assert conversation.settings.temperature == 0.7
    with pytest.raises(ValueError, match="needs a name"):
        rename_conversation(reopened, first, "   ")
    delete_conversation(reopened, first)
    assert [c.id for c in list_conversations(reopened)] == [second]
    with pytest.raises(ConversationNotFound):
        load_conversation(reopened, first)
    with pytest.raises(ConversationNotFound):
        add_turn(reopened, first, "hello?")
    assert load_conversation(reopened, second).title == NEW_TITLE
    reopened.close()


def _two_turns(project):
    conversation_id = create_conversation(project, ChatSettings(system_prompt="Be brief."))
    one = add_turn(project, conversation_id, "ticket billing")
    save_answer(project, one.id, 0, "base", "hmm", 1, 0.1)
    two = add_turn(project, conversation_id, "ticket refund")
    save_answer(project, two.id, 0, "base", "not sure", 2, 0.1)
    return load_conversation(project, conversation_id)


def test_an_answer_becomes_an_eval_set_line(project, tmp_path):
    conversation = _two_turns(project)
    record = example_record(conversation, 1, 0, answer=ANSWER)
    assert record["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "ticket billing"},
        {"role": "assistant", "content": "hmm"},
        {"role": "user", "content": "ticket refund"},
        {"role": "assistant", "content": ANSWER},
    ]
    path = tmp_path / "evals" / "chat.jsonl"
    assert append_to_eval_set(path, record) == 1
    assert append_to_eval_set(path, example_record(conversation, 0, 0)) == 2
    loaded = load_eval_set_file(path)
    assert [e.reference for e in loaded.examples] == [ANSWER, "hmm"]
    assert loaded.examples[0].user_text == "ticket refund"

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"messages": []}\nnot json\n', encoding="utf-8")
    with pytest.raises(EvalSetError, match="was not changed"):
        append_to_eval_set(broken, record)
    assert broken.read_text(encoding="utf-8") == '{"messages": []}\nnot json\n'
    with pytest.raises(ValueError, match="answer is empty"):
        example_record(conversation, 0, 0, answer="  ")
    with pytest.raises(LookupError, match="no answer"):
        example_record(conversation, 0, 1)


def test_an_answer_becomes_dataset_drafts(project):
    conversation = _two_turns(project)
    handoff = dataset_drafts(project, [example_record(conversation, 0, 0)])
    assert isinstance(handoff, DraftsForDataset)
    assert handoff.base_version_id is None  # no dataset yet: the page starts one
    assert handoff.drafts[0]["messages"][-1] == {"role": "assistant", "content": "hmm"}
    json.dumps(dataclasses.asdict(handoff))  # plain data, safe to hand across pages
