"""The project's current dataset as the estimator's input: examples, tokens, longest example.

Reads the latest saved dataset version through core.dataset (another feature, imported
lazily and optional: without it the estimator keeps its examples x average tokens inputs).
Tokens are counted with the model's tokenizer when one is given, otherwise estimated at
about 4 characters per token, and the result says which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.dataset.tokens import count_tokens, estimate_tokens, load_tokenizer, tokenizer_name
from core.dataset.versions import latest_version


class DatasetTokensUnavailable(Exception):
    """No dataset to read (feature missing, or no saved version); the message says which."""


@dataclass(frozen=True)
class DatasetTokens:
    label: str  # e.g. "support-tickets v3 (train split)"
    examples: int
    total_tokens: int
    max_tokens: int
    counted_with: str  # the tokenizer's name, or "about 4 characters per token"

    @property
    def avg_tokens(self) -> int:
        return max(1, round(self.total_tokens / max(1, self.examples)))


def project_dataset_tokens(
    project,
    tokenizer_source=None,
    progress: Callable[[float, str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> DatasetTokens:
    """Token counts of the training split of the project's latest dataset version."""
    version = latest_version(project)
    if version is None:
        raise DatasetTokensUnavailable(
            "This project has no saved dataset version yet: save one on the Dataset page."
        )
    if progress:
        progress(0.05, f"Reading {version.dataset} {version.label}")
    train, _valid = version.load_split()
    conversations = [example.messages for example in train]
    if not conversations:
        raise DatasetTokensUnavailable(
            f"{version.dataset} {version.label} has no training examples."
        )
    counts: list[int]
    if tokenizer_source is not None:
        tokenizer = load_tokenizer(tokenizer_source)
        counted = count_tokens(
            conversations,
            tokenizer,
            total=len(conversations),
            progress=progress,
            cancelled=cancelled,
        )
        counts = [int(value) for value in counted]
        counted_with = tokenizer_name(tokenizer)
    else:
        counts = [estimate_tokens(messages) for messages in conversations]
        counted_with = "about 4 characters per token"
    if progress:
        progress(1.0, "Counted")
    return DatasetTokens(
        label=f"{version.dataset} {version.label} (train split)",
        examples=len(counts),
        total_tokens=sum(counts),
        max_tokens=max(counts),
        counted_with=counted_with,
    )
