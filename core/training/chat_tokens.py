"""Turning conversations into token ids and labels, with the loss on the assistant's turns.

The tokenizer's chat template renders each conversation. Which tokens are the
assistant's comes from the template's {% generation %} marks when it has them;
most templates (SmolLM2's among them) do not, so otherwise we find each assistant
turn by rendering the conversation up to it: the text between "everything before,
plus the assistant header" and "everything through this turn" is the turn, and the
tokens whose characters fall in it are the ones the model learns. Labels are -100
everywhere else, so TRL trains on exactly these tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.training.conversations import Conversation, TrainingDataError

IGNORE_INDEX = -100
_GENERATION_MARK = re.compile(r"\{%-?\s*generation\s*-?%\}")


class ChatTemplateError(ValueError):
    """The model's chat template cannot be used for training, and what to do instead."""


def has_generation_marks(tokenizer) -> bool:
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):
        template = template.get("default", "")
    return bool(template) and _GENERATION_MARK.search(template) is not None


def require_chat_template(tokenizer, model_name: str) -> None:
    if not getattr(tokenizer, "chat_template", None):
        raise ChatTemplateError(
            f"{model_name} has no chat template, so conversations cannot be formatted for it. "
            "Choose an instruct or chat model (its tokenizer_config.json has a chat_template)."
        )


@dataclass
class TokenizedConversation:
    input_ids: list[int]
    labels: list[int]

    @property
    def n_trained(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


def _render(tokenizer, messages: list[dict], tools, add_generation_prompt: bool) -> str:
    kwargs = {"tokenize": False, "add_generation_prompt": add_generation_prompt}
    if tools:
        kwargs["tools"] = tools
    return tokenizer.apply_chat_template(messages, **kwargs)


def assistant_spans(tokenizer, conversation: Conversation) -> tuple[str, list[tuple[int, int]]]:
    """The rendered text and the character spans of each assistant turn in it."""
    messages, tools = conversation.messages, conversation.tools
    full = _render(tokenizer, messages, tools, add_generation_prompt=False)
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = _render(tokenizer, messages[:index], tools, add_generation_prompt=True)
        through = _render(tokenizer, messages[: index + 1], tools, add_generation_prompt=False)
        if not (
            full.startswith(before) and full.startswith(through) and len(through) > len(before)
        ):
            raise ChatTemplateError(
                f"line {conversation.line}: the chat template renders assistant turn "
                f"{index + 1} differently depending on what follows it, so its tokens cannot "
                "be located. Train on all tokens (loss_on: all), or use a template with "
                "{% generation %} marks."
            )
        end = len(through)
        # The newline a template puts after the end-of-turn token belongs to the layout,
        # not to the reply (templates with generation marks leave it out too).
        while end > len(before) and through[end - 1] in "\r\n":
            end -= 1
        spans.append((len(before), end))
    return full, spans


def _mask_from_spans(tokenizer, text: str, spans: list[tuple[int, int]]) -> tuple[list, list]:
    if getattr(tokenizer, "is_fast", False):
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = list(encoded["input_ids"])
        mask = []
        for start, _end in encoded["offset_mapping"]:
            mask.append(int(any(lo <= start < hi for lo, hi in spans)))
        return ids, mask
    # Slow tokenizers have no offsets: tokenize the pieces one after another.
    ids, mask, cursor = [], [], 0
    for lo, hi in [*spans, (len(text), len(text))]:
        for piece, flag in ((text[cursor:lo], 0), (text[lo:hi], 1)):
            if piece:
                piece_ids = tokenizer(piece, add_special_tokens=False)["input_ids"]
                ids += piece_ids
                mask += [flag] * len(piece_ids)
        cursor = hi
    return ids, mask


def _native_mask(tokenizer, conversation: Conversation) -> tuple[list, list]:
    kwargs = {"tokenize": True, "return_dict": True, "return_assistant_tokens_mask": True}
    if conversation.tools:
        kwargs["tools"] = conversation.tools
    out = tokenizer.apply_chat_template(conversation.messages, **kwargs)
    return list(out["input_ids"]), list(out["assistant_masks"])


def assistant_token_mask(
    tokenizer, conversation: Conversation, prefer_generation_marks: bool = True
) -> tuple[list[int], list[int]]:
    """Token ids of the rendered conversation and a 0/1 mask of the assistant's tokens."""
    if prefer_generation_marks and has_generation_marks(tokenizer):
        return _native_mask(tokenizer, conversation)
    text, spans = assistant_spans(tokenizer, conversation)
    return _mask_from_spans(tokenizer, text, spans)


def tokenize_conversation(
    tokenizer, conversation: Conversation, loss_on: str = "assistant"
) -> TokenizedConversation:
    if loss_on == "all":
        kwargs = {"tokenize": False}
        if conversation.tools:
            kwargs["tools"] = conversation.tools
        text = tokenizer.apply_chat_template(conversation.messages, **kwargs)
        ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
        return TokenizedConversation(ids, list(ids))
    ids, mask = assistant_token_mask(tokenizer, conversation)
    labels = [token if flag else IGNORE_INDEX for token, flag in zip(ids, mask)]
    if not any(mask):
        raise TrainingDataError(
            "dataset",
            conversation.line,
            "the assistant's reply produced no tokens (is it empty?).",
        )
    return TokenizedConversation(ids, labels)


@dataclass(frozen=True)
class Truncation:
    """What max_seq_length does to the answers: TRL keeps each example's first tokens."""

    max_seq_length: int
    n_examples: int
    answers_lost: int  # examples whose every learned token is past the limit
    answers_cut: int  # examples that keep only part of their learned tokens
    trained_tokens_kept: int
    whole_answers_length: int  # the limit that keeps every answer whole

    @property
    def affected(self) -> int:
        return self.answers_lost + self.answers_cut


def measure_truncation(examples: list[TokenizedConversation], max_seq_length: int) -> Truncation:
    lost = cut = kept_total = needed = 0
    for example in examples:
        trained = [i for i, label in enumerate(example.labels) if label != IGNORE_INDEX]
        if not trained:
            continue
        kept = sum(1 for i in trained if i < max_seq_length)
        kept_total += kept
        needed = max(needed, trained[-1] + 1)
        if kept == 0:
            lost += 1
        elif kept < len(trained):
            cut += 1
    return Truncation(max_seq_length, len(examples), lost, cut, kept_total, needed)


@dataclass
class TokenizedSplit:
    examples: list[TokenizedConversation]
    n_truncated: int = 0
    truncation: Truncation | None = None

    @property
    def n_tokens(self) -> int:
        return sum(len(e.input_ids) for e in self.examples)

    @property
    def n_trained_tokens(self) -> int:
        return sum(e.n_trained for e in self.examples)

    def to_hf_dataset(self):
        # datasets is heavy: loaded when data is tokenized
        from datasets import Dataset

        return Dataset.from_dict(
            {
                "input_ids": [e.input_ids for e in self.examples],
                "labels": [e.labels for e in self.examples],
            }
        )


def tokenize_split(
    tokenizer,
    conversations: list[Conversation],
    loss_on: str,
    max_seq_length: int,
    file: str = "dataset",
) -> TokenizedSplit:
    """Tokenize every conversation; count (but keep, truncated) the ones over max length.

    Truncation itself is left to TRL (it truncates, or packs and cuts, the same way its
    own pipeline would), so our examples go through the standard path.
    """
    examples, truncated = [], 0
    for conversation in conversations:
        try:
            example = tokenize_conversation(tokenizer, conversation, loss_on)
        except TrainingDataError as error:
            raise TrainingDataError(file, conversation.line, error.message) from None
        except ChatTemplateError as error:
            raise ChatTemplateError(f"{file} {error}") from None
        if len(example.input_ids) > max_seq_length:
            truncated += 1
        examples.append(example)
    return TokenizedSplit(examples, truncated, measure_truncation(examples, max_seq_length))
