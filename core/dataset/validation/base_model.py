"""Replies the base model already gives almost word for word (the seed's third pitfall).

Training a model on its own outputs teaches it little. For a sample of examples, the
base model answers each conversation (greedy, up to the reference's length); a reply
that is nearly the same as the dataset's is flagged. Runs in the background: it takes
`progress(fraction, message)` and `cancelled()` like desktop's BackgroundTask.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.dataset.findings import INFO, WARNING, Finding
from core.dataset.model import Dataset, message_text
from core.dataset.progress import IsCancelled, Progress, check
from core.models.load_lock import model_loading
from core.models.remote_code import trust_remote_code_for

_WORDS = re.compile(r"\w+|[^\w\s]")
Generate = Callable[[list[list[dict]], list[int]], list[str]]


@dataclass
class EchoCheckConfig:
    threshold: float = field(
        default=0.9,
        metadata={
            "help": "Word-sequence similarity (0-1) above which the base model's own reply "
            "counts as 'the same' as the dataset's."
        },
    )
    max_examples: int = field(
        default=100,
        metadata={"help": "How many examples to check (spread evenly over the dataset)."},
    )
    batch_size: int = field(default=8, metadata={"help": "Conversations generated together."})
    max_new_tokens: int = field(
        default=384, metadata={"help": "Longest reply generated, in tokens."}
    )

    def __post_init__(self) -> None:
        if not 0.5 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be between 0.5 and 1.0, not {self.threshold}")
        if self.max_examples < 1 or self.batch_size < 1 or self.max_new_tokens < 1:
            raise ValueError("max_examples, batch_size and max_new_tokens must be at least 1")


@dataclass
class EchoCheckResult:
    """Similarity of the base model's reply to the dataset's, per checked example index."""

    similarities: dict[int, float]
    base_replies: dict[int, str]
    findings: list[Finding]


def reply_similarity(a: str, b: str) -> float:
    """How much of two replies is the same word sequence (difflib ratio on words)."""
    words_a, words_b = _WORDS.findall(a.lower()), _WORDS.findall(b.lower())
    if not words_a and not words_b:
        return 1.0
    return difflib.SequenceMatcher(None, words_a, words_b, autojunk=False).ratio()


def _sample(n: int, limit: int) -> list[int]:
    if n <= limit:
        return list(range(n))
    step = n / limit
    return sorted({int(i * step) for i in range(limit)})


def _prompt_and_reference(messages: list) -> tuple[list[dict], str] | None:
    """The conversation up to its last assistant reply, and that reply."""
    for position in range(len(messages) - 1, 0, -1):
        message = messages[position]
        if isinstance(message, dict) and message.get("role") == "assistant":
            reference = message_text(message.get("content"))
            prompt = [
                {"role": m.get("role"), "content": message_text(m.get("content"))}
                for m in messages[:position]
                if isinstance(m, dict)
            ]
            if reference.strip() and prompt:
                return prompt, reference
            return None
    return None


def model_generator(model_dir: str | Path, max_new_tokens: int) -> tuple[Generate, Any]:
    """A greedy batch generator over a model folder, and its tokenizer (for reply lengths)."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # transformers is heavy: loaded when a model is
    from transformers import AutoModelForCausalLM, AutoTokenizer

    trust = trust_remote_code_for(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), trust_remote_code=trust)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with model_loading():
        model = AutoModelForCausalLM.from_pretrained(
            str(model_dir),
            dtype=torch.bfloat16 if device == "cuda" else torch.float32,
            trust_remote_code=trust,
        ).to(device)
    model.eval()

    def generate(prompts: list[list[dict]], budgets: list[int]) -> list[str]:
        texts = [
            tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
            for p in prompts
        ]
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            device
        )
        with torch.no_grad():
            output = model.generate(
                **batch,
                do_sample=False,
                max_new_tokens=min(max(budgets), max_new_tokens),
                pad_token_id=tokenizer.pad_token_id,
            )
        new = output[:, batch["input_ids"].shape[1] :]
        return [tokenizer.decode(ids, skip_special_tokens=True) for ids in new]

    return generate, tokenizer


def find_base_model_echoes(
    dataset: Dataset,
    model: str | Path | Generate,
    config: EchoCheckConfig | None = None,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
    indexes: Sequence[int] | None = None,
) -> EchoCheckResult:
    """Flag examples whose reply the base model already gives nearly word for word.

    `model` is a model folder, or a function (prompts, token budgets) -> replies.
    """
    config = config or EchoCheckConfig()
    if progress:
        progress(0.0, "Loading the base model")
    if callable(model):
        generate, tokenizer = model, None
    else:
        generate, tokenizer = model_generator(model, config.max_new_tokens)
    check(cancelled)
    chosen = list(indexes) if indexes is not None else _sample(len(dataset), config.max_examples)
    jobs: list[tuple[int, list[dict], str]] = []
    for index in chosen:
        example = dataset.examples[index]
        if example.is_broken:
            continue
        found = _prompt_and_reference(example.messages)
        if found is not None:
            jobs.append((index, *found))
    similarities: dict[int, float] = {}
    replies: dict[int, str] = {}
    file = str(dataset.source_path) if dataset.source_path else None
    findings: list[Finding] = []
    for start in range(0, len(jobs), config.batch_size):
        check(cancelled)
        batch = jobs[start : start + config.batch_size]
        budgets = [
            (
                len(tokenizer(ref, add_special_tokens=False)["input_ids"])
                if tokenizer
                else len(ref) // 3
            )
            + 16
            for _, _, ref in batch
        ]
        answers = generate([prompt for _, prompt, _ in batch], budgets)
        for (index, _, reference), answer in zip(batch, answers):
            similarity = reply_similarity(answer, reference)
            similarities[index] = similarity
            replies[index] = answer
            if similarity >= config.threshold:
                example = dataset.examples[index]
                findings.append(
                    Finding(
                        WARNING,
                        "base_model_echo",
                        f"Example {index + 1}: the base model already gives this reply almost "
                        f"word for word ({100 * similarity:.0f}% the same). Training on its own "
                        "output teaches it little.",
                        fix="Replace the reply with what an expert would write, or delete "
                        "the example.",
                        file=file,
                        line=example.line,
                        example=index,
                        example_id=example.id,
                    )
                )
        if progress:
            done = min(start + config.batch_size, len(jobs))
            progress(done / max(len(jobs), 1), f"Compared {done} of {len(jobs)} replies")
    if jobs:
        findings.append(
            Finding(
                INFO,
                "base_model_echo_summary",
                f"The base model already gives {len(findings)} of {len(jobs)} checked replies "
                "almost word for word.",
                fix="Those examples add little; spend the review time on the others."
                if findings
                else "",
            )
        )
    return EchoCheckResult(similarities, replies, findings)
