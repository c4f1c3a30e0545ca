"""Token counts of conversations, with the chosen model's tokenizer and chat template.

Without a tokenizer, counts are estimated at about 4 characters per token plus a few
tokens of chat-template overhead per message, and marked as estimates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from core.dataset.model import message_text
from core.dataset.progress import IsCancelled, Progress, check
from core.models.bundled import BUNDLED_MODEL_NAME, ensure_bundled_model
from core.models.remote_code import trust_remote_code_for

CHARS_PER_TOKEN = 4.0
TEMPLATE_TOKENS_PER_MESSAGE = 4  # role markers and separators of a typical chat template
_BATCH = 256


def estimate_tokens(messages: list) -> int:
    chars = 0
    for message in messages:
        if isinstance(message, dict):
            chars += len(message_text(message.get("content")))
    return math.ceil(chars / CHARS_PER_TOKEN) + TEMPLATE_TOKENS_PER_MESSAGE * len(messages)


def load_tokenizer(source: Any):
    """A tokenizer object, from a tokenizer, a model folder, or the bundled model's name."""
    if not isinstance(source, (str, Path)):
        return source
    # transformers is heavy: loaded when a model is
    from transformers import AutoTokenizer

    path = Path(source).expanduser()
    if not path.exists():
        if str(source) in (BUNDLED_MODEL_NAME, "bundled"):
            path = ensure_bundled_model()
        else:
            raise FileNotFoundError(
                f"No tokenizer at {source}: give a model folder (with tokenizer files) "
                f"or '{BUNDLED_MODEL_NAME}'."
            )

    return AutoTokenizer.from_pretrained(str(path), trust_remote_code=trust_remote_code_for(path))


def tokenizer_name(tokenizer: Any) -> str:
    name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
    return Path(str(name)).name or str(name)


def _render(tokenizer: Any, messages: list) -> str:
    clean = [
        {"role": m.get("role"), "content": message_text(m.get("content"))}
        for m in messages
        if isinstance(m, dict)
    ]
    if getattr(tokenizer, "chat_template", None):
        try:
            return tokenizer.apply_chat_template(clean, tokenize=False)
        except Exception:  # a template that rejects this conversation's shape
            pass
    return "\n".join(f"{m['role']}: {m['content']}" for m in clean)


def count_tokens(
    conversations: Iterable[list],
    tokenizer: Any,
    total: int | None = None,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> np.ndarray:
    """Tokens per conversation as the model sees it (chat template applied)."""
    counts: list[int] = []
    batch: list[str] = []

    def flush() -> None:
        if batch:
            encoded = tokenizer(batch, add_special_tokens=False)["input_ids"]
            counts.extend(len(ids) for ids in encoded)
            batch.clear()

    for messages in conversations:
        batch.append(_render(tokenizer, messages))
        if len(batch) >= _BATCH:
            flush()
            check(cancelled)
            if progress is not None and total:
                progress(len(counts) / total, f"Counted tokens of {len(counts):,} examples")
    flush()
    return np.asarray(counts, dtype=np.int64)
