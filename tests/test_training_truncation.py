"""max_seq_length shorter than the examples: no answer left must stop the run before it
starts (the loss would read 0.0000 and the run 'finish'); answers cut are a visible warning."""

from __future__ import annotations

import json

import pytest

from core.recipe.config import TrainConfig
from core.training.observer import CollectingObserver
from core.training.session import run_training

LONG_PROMPT = "Please route this ticket to the right team: " + "my order never arrived " * 8


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _dataset(path, prompts):
    rows = [
        {
            "messages": [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": '{"category": "shipping"}'},
            ]
        }
        for prompt in prompts
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def _config(model_dir, train_file, max_seq_length):
    return TrainConfig(
        base_model=str(model_dir),
        train_file=str(train_file),
        validation_fraction=0.0,
        method="lora",
        max_steps=2,
        micro_batch_size=4,
        gradient_accumulation=1,
        max_seq_length=max_seq_length,
        packing=False,
        preflight=False,
    )


def _lengths(model_dir, prompt):
    """Tokens before the answer, and through its last learned token (tiny model's template)."""
    from core.training.chat_tokens import IGNORE_INDEX, tokenize_conversation
    from core.training.conversations import Conversation
    from core.training.model_loading import load_tokenizer

    messages = [
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": '{"category": "shipping"}'},
    ]
    example = tokenize_conversation(load_tokenizer(model_dir), Conversation(messages, line=1))
    trained = [i for i, label in enumerate(example.labels) if label != IGNORE_INDEX]
    return trained[0], trained[-1] + 1


def test_no_answer_left_after_truncation_stops_the_run_before_it_starts(
    project, tiny_model_dir, tmp_path
):
    prompt_tokens, total = _lengths(tiny_model_dir, LONG_PROMPT)
    data = _dataset(tmp_path / "train.jsonl", [LONG_PROMPT] * 8)
    observer = CollectingObserver()
    result = run_training(project, _config(tiny_model_dir, data, prompt_tokens - 2), observer)
    assert result.status == "failed", result
    assert result.steps_done == 0 and not observer.records
    assert "max_seq_length" in result.reason
    assert "all 8 training examples lose their whole answer" in result.reason
    assert f"Raise max_seq_length to {total}" in result.reason


def test_answers_cut_by_max_seq_length_are_a_warning_the_train_page_gets(
    project, tiny_model_dir, tmp_path
):
    prompt_tokens, total = _lengths(tiny_model_dir, LONG_PROMPT)
    short = "Where is my order?"
    data = _dataset(tmp_path / "train.jsonl", [LONG_PROMPT] * 3 + [short] * 5)
    observer = CollectingObserver()
    result = run_training(project, _config(tiny_model_dir, data, prompt_tokens + 3), observer)
    assert result.status == "finished", result
    (warning,) = [a for a in observer.advice if a.kind == "truncated_answers"]
    assert warning.severity == "warning" and warning.step == 0
    assert "3 of 8 training examples" in warning.message
    assert f"max_seq_length to {total}" in warning.message
    assert warning.details["answers_cut"] == 3 and warning.details["answers_lost"] == 0
