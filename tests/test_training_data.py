"""Training data: JSONL conversations checked line by line, and the loss on assistant tokens only
(with the tiny model's {% generation %} template and with SmolLM2's template, which has none)."""

from __future__ import annotations

import json

import pytest

from core.training.chat_tokens import (
    IGNORE_INDEX,
    assistant_token_mask,
    has_generation_marks,
    tokenize_conversation,
    tokenize_split,
)
from core.training.conversations import (
    Conversation,
    TrainingDataError,
    hold_out,
    read_conversations,
)

CONVERSATION = Conversation(
    [
        {"role": "system", "content": "You are a helpful assistant. Answer in JSON."},
        {"role": "user", "content": "My order never arrived."},
        {"role": "assistant", "content": '{"category": "shipping"}'},
        {"role": "user", "content": "The ticket is about billing."},
        {"role": "assistant", "content": '{"category": "billing"}'},
    ],
    line=1,
)


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reads_openai_messages_jsonl(tmp_path):
    record = {"messages": CONVERSATION.messages}
    path = _write(tmp_path / "train.jsonl", [json.dumps(record), "", json.dumps(record)])
    conversations = read_conversations(path)
    assert len(conversations) == 2 and conversations[1].line == 3


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("{not json", "not valid JSON"),
        ('{"text": "hello"}', "no 'messages'"),
        ('{"messages": [{"role": "robot", "content": "x"}]}', "role 'robot'"),
        ('{"messages": [{"role": "user", "content": "only a question"}]}', "no assistant message"),
        ('{"messages": [{"role": "assistant"}]}', "no 'content'"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, line, words):
    good = json.dumps({"messages": CONVERSATION.messages})
    path = _write(tmp_path / "train.jsonl", [good, line])
    with pytest.raises(TrainingDataError) as caught:
        read_conversations(path)
    assert caught.value.line == 2
    assert str(path) in str(caught.value) and words in str(caught.value)


def test_hold_out_is_deterministic_and_only_for_ten_or_more():
    many = [Conversation(CONVERSATION.messages, line=i) for i in range(30)]
    train, valid = hold_out(many, 0.1, seed=1)
    assert (len(train), len(valid)) == (27, 3)
    assert [c.line for c in valid] == [c.line for c in hold_out(many, 0.1, seed=1)[1]]
    assert hold_out(many[:9], 0.1, seed=1) == (many[:9], [])


def _assistant_text(tokenizer, ids, mask):
    return tokenizer.decode([t for t, m in zip(ids, mask) if m])


def test_fallback_mask_matches_the_templates_generation_marks(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert has_generation_marks(tokenizer)
    native = assistant_token_mask(tokenizer, CONVERSATION, prefer_generation_marks=True)
    rendered = assistant_token_mask(tokenizer, CONVERSATION, prefer_generation_marks=False)
    assert native == rendered
    assert sum(native[1]) > 0 and 0 in native[1]


def test_smollm2_template_without_marks_masks_everything_but_the_replies():
    from transformers import AutoTokenizer

    from core.models.bundled import ensure_bundled_model

    tokenizer = AutoTokenizer.from_pretrained(ensure_bundled_model())
    assert not has_generation_marks(tokenizer)
    example = tokenize_conversation(tokenizer, CONVERSATION, "assistant")
    learned = tokenizer.decode([t for t in example.labels if t != IGNORE_INDEX])
    assert learned == '{"category": "shipping"}<|im_end|>{"category": "billing"}<|im_end|>'
    ignored = tokenizer.decode(
        [t for t, label in zip(example.input_ids, example.labels) if label == IGNORE_INDEX]
    )
    assert "My order never arrived." in ignored and "Answer in JSON." in ignored
    assert "shipping" not in ignored
    everything = tokenize_conversation(tokenizer, CONVERSATION, "all")
    assert everything.labels == everything.input_ids == example.input_ids


def test_labels_reaching_the_model_are_only_the_assistants(tiny_model_dir, tmp_path):
    """Through TRL's real pipeline (packing on): the batch the model sees has labels only on
    assistant tokens, so the loss cannot include the prompts."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    from core.recipe.config import TrainConfig
    from core.training.device import resolve_device
    from core.training.schedule import provisional_schedule
    from core.training.sft_args import build_sft_config, build_sft_kwargs, trainer_tokenizer_kwarg

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    conversations = [
        Conversation(
            [
                {"role": "user", "content": f"Question number {i} please"},
                {"role": "assistant", "content": "yes " * (i + 1)},
            ],
            line=i + 1,
        )
        for i in range(6)
    ]
    config = TrainConfig(method="full", micro_batch_size=2, max_seq_length=64, packing=True)
    split = tokenize_split(tokenizer, conversations, "assistant", config.max_seq_length)
    kwargs, _ = build_sft_kwargs(
        config, resolve_device(config), provisional_schedule(config, False), tmp_path, False, 0
    )
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        args=build_sft_config(**kwargs),
        train_dataset=split.to_hf_dataset(),
        **trainer_tokenizer_kwarg(tokenizer),
    )
    learned = []
    for batch in trainer.get_train_dataloader():
        labels = batch["labels"][batch["labels"] != IGNORE_INDEX]
        learned.append(tokenizer.decode(labels.tolist()))
    text = "".join(learned)
    assert "yes" in text and "<|im_end|>" in text
    assert "Question" not in text and "user" not in text and "assistant" not in text


def test_the_dataset_page_counts_the_text_the_trainer_trains_on(tmp_path):
    """Content given as parts is flattened once (core.dataset.model.message_text), so the
    Dataset page's token count and checks see what the trainer feeds the chat template."""
    from core.dataset.model import message_text
    from core.dataset.tokens import estimate_tokens

    parts = [{"type": "text", "text": "Reset my "}, {"type": "text", "text": "password"}]
    record = {
        "messages": [{"role": "user", "content": parts}, {"role": "assistant", "content": "Done."}]
    }
    path = tmp_path / "parts.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    trained = read_conversations(path)[0].messages[0]["content"]
    assert trained == message_text(parts) == "Reset my password"
    assert estimate_tokens(record["messages"]) == estimate_tokens(
        [{"role": "user", "content": trained}, {"role": "assistant", "content": "Done."}]
    )
