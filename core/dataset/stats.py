"""Dataset statistics: counts, token-length histogram, role and format mix, tokens per epoch.

The estimator reads `dataset_token_stats`; the statistics panel reads `dataset_statistics`.
Token counts come from the model's tokenizer when one is given, else from an estimate
(~4 characters per token), and the result says which.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from core.dataset.formats import import_dataset
from core.dataset.jsonl import read_jsonl
from core.dataset.model import Dataset, message_text
from core.dataset.progress import IsCancelled, Progress, check
from core.dataset.tokens import count_tokens, estimate_tokens, load_tokenizer, tokenizer_name
from core.dataset.validation.style import reply_features as _reply_features
from core.dataset.validation.style import reply_style, style_mix

HISTOGRAM_BINS = 40


def _as_dataset(version_or_dataset: Any, split: str = "train") -> Dataset:
    """A Dataset from a Dataset, a DatasetVersion (its training side by default) or a path."""
    if isinstance(version_or_dataset, Dataset):
        return version_or_dataset
    if hasattr(version_or_dataset, "train_path"):
        path = version_or_dataset.train_path if split == "train" else version_or_dataset.valid_path
        return read_jsonl(path)

    return import_dataset(version_or_dataset)


def _token_counts(dataset: Dataset, tokenizer, progress, cancelled) -> tuple[np.ndarray, bool]:
    conversations = (e.messages for e in dataset.examples if not e.is_broken)
    if tokenizer is None:
        return np.fromiter((estimate_tokens(m) for m in conversations), dtype=np.int64), True
    return count_tokens(
        conversations, load_tokenizer(tokenizer), len(dataset), progress, cancelled
    ), False


def dataset_token_stats(
    version_or_dataset: Any,
    tokenizer: Any = None,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> dict:
    """Token figures for the estimator: examples, avg/max/p95 tokens, tokens per epoch.

    A DatasetVersion counts its training file (what one epoch goes through). `estimated`
    is True when no tokenizer was given (about 4 characters per token).
    """
    dataset = _as_dataset(version_or_dataset)
    counts, estimated = _token_counts(dataset, tokenizer, progress, cancelled)
    n = len(counts)
    return {
        "examples": n,
        "avg_tokens": float(counts.mean()) if n else 0.0,
        "max_tokens": int(counts.max()) if n else 0,
        "p95_tokens": float(np.percentile(counts, 95)) if n else 0.0,
        "tokens_per_epoch": int(counts.sum()),
        "estimated": estimated,
        "tokenizer": None if tokenizer is None else tokenizer_name(load_tokenizer(tokenizer)),
    }


def token_histogram(
    counts: np.ndarray, bins: int = HISTOGRAM_BINS
) -> tuple[list[float], list[int]]:
    """(bin edges, counts) of token lengths for a bar chart."""
    if not len(counts):
        return [0.0, 1.0], [0]
    hist, edges = np.histogram(counts, bins=min(bins, max(1, len(np.unique(counts)))))
    return edges.tolist(), hist.tolist()


def dataset_statistics(
    dataset: Dataset,
    tokenizer: Any = None,
    max_seq_length: int | None = None,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> dict:
    """Everything the statistics panel shows, computed off the GUI thread."""
    roles: Counter = Counter()
    turns: list[int] = []
    features = []
    styles: Counter = Counter()
    systems: Counter = Counter()
    broken = 0
    for index, example in enumerate(dataset.examples):
        if index % 5000 == 0:
            check(cancelled)
        record = example.parsed_record()
        messages = record.get("messages") if isinstance(record, dict) else None
        if not isinstance(messages, list):
            broken += 1
            continue
        replies = []
        for position, message in enumerate(messages):
            if not isinstance(message, dict):
                continue
            role = str(message.get("role"))
            roles[role] += 1
            if role == "assistant":
                replies.append(message_text(message.get("content")))
                styles[reply_style(replies[-1])] += 1
            elif role == "system" and position == 0:
                systems[message_text(message.get("content"))] += 1
        turns.append(sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "user"))
        features.append(_reply_features(replies))
    counts, estimated = _token_counts(dataset, tokenizer, progress, cancelled)
    edges, histogram = token_histogram(counts)
    over = int((counts > max_seq_length).sum()) if max_seq_length else 0
    return {
        "examples": len(dataset),
        "broken": broken,
        "roles": dict(roles),
        "turns": {
            "single": sum(1 for t in turns if t == 1),
            "multi": sum(1 for t in turns if t > 1),
        },
        "format_mix": style_mix(features),
        "reply_formats": dict(styles),
        "system_prompts": len(systems),
        "with_sign_off": sum(1 for f in features if f.sign_off),
        "tokens": counts,
        "tokens_estimated": estimated,
        "histogram_edges": edges,
        "histogram_counts": histogram,
        "avg_tokens": float(counts.mean()) if len(counts) else 0.0,
        "tokens_per_epoch": int(counts.sum()),
        "over_max_seq_length": over,
        "max_seq_length": max_seq_length,
    }
