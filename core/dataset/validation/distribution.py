"""Does the dataset look like production? (the seed's second pitfall, distribution mismatch)

Given a sample of real user queries, compares their mix with the dataset's first user
messages three ways: length (short, medium, long), topic (the dataset's tags when it
has them, else word clusters), and coverage (production queries unlike any training
example). Words are hashed into a fixed-size TF-IDF space, so no vocabulary is kept and
the work is linear; large sides are sampled.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.dataset.findings import INFO, WARNING, Finding
from core.dataset.model import Dataset, message_text
from core.dataset.progress import IsCancelled, Progress, check

DIMENSIONS = 2048
MAX_SIDE = 5000  # examples or queries compared; more are sampled
UNCOVERED_SIMILARITY = 0.15  # cosine below which a query is unlike every training example
LENGTH_BUCKETS = (("short", 0, 15), ("medium", 15, 60), ("long", 60, 10**9))
MISMATCH_DISTANCE = 0.25  # total variation distance of two mixes worth a warning
UNCOVERED_WARNING_SHARE = 0.2
_WORDS = re.compile(r"[a-z0-9][a-z0-9'_-]+")
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "you",
        "your",
        "with",
        "that",
        "this",
        "are",
        "was",
        "have",
        "has",
        "not",
        "but",
        "can",
        "how",
        "what",
        "when",
        "where",
        "from",
        "they",
        "them",
        "our",
        "out",
        "any",
        "all",
        "its",
        "it's",
        "i'm",
        "i've",
        "don't",
        "does",
        "did",
        "get",
        "got",
        "just",
        "would",
        "could",
        "should",
        "about",
        "there",
        "their",
        "been",
        "into",
        "also",
        "very",
        "please",
        "thanks",
        "thank",
        "hello",
    ]
)


@dataclass
class MixRow:
    label: str
    production: float
    dataset: float


@dataclass
class DistributionReport:
    n_queries: int
    n_examples: int
    length_mix: list[MixRow]
    topic_mix: list[MixRow]
    topic_source: str  # "tags" or "clusters"
    uncovered_share: float
    uncovered_queries: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def read_production_queries(path: str | Path) -> list[str]:
    """Queries from a text file (one a line), CSV (a query/prompt/question column) or JSONL."""
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        if not rows:
            return []
        names = {k.lower(): k for k in rows[0]}
        column = next(
            (names[n] for n in ("query", "prompt", "question", "text", "message") if n in names),
            next(iter(rows[0])),
        )
        return [row[column].strip() for row in rows if row.get(column, "").strip()]
    if path.suffix.lower() in (".jsonl", ".json"):
        queries = []
        for line in text.splitlines():
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict) and isinstance(value.get("messages"), list):
                users = [
                    m for m in value["messages"] if isinstance(m, dict) and m.get("role") == "user"
                ]
                if users:
                    queries.append(message_text(users[0].get("content")))
            elif isinstance(value, dict):
                for key in ("query", "prompt", "question", "text"):
                    if isinstance(value.get(key), str):
                        queries.append(value[key])
                        break
            elif isinstance(value, str):
                queries.append(value)
        return [q for q in queries if q.strip()]
    return [line.strip() for line in text.splitlines() if line.strip()]


def _tokens(text: str) -> list[str]:
    return [w for w in _WORDS.findall(text.lower()) if w not in _STOP]


def _bucket(word: str) -> int:
    return zlib.crc32(word.encode()) % DIMENSIONS


def _vectors(texts: list[str], idf: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    counts = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in _tokens(text):
            counts[row, _bucket(word)] += 1.0
    if idf is None:
        document_frequency = (counts > 0).sum(axis=0)
        idf = np.log((1 + len(texts)) / (1 + document_frequency)).astype(np.float32) + 1.0
    weighted = np.log1p(counts) * idf
    norms = np.linalg.norm(weighted, axis=1, keepdims=True)
    return weighted / np.maximum(norms, 1e-9), idf


def _mix(labels: list[str], order: list[str]) -> dict[str, float]:
    counts = Counter(labels)
    total = max(len(labels), 1)
    return {label: counts.get(label, 0) / total for label in order}


def _distance(a: dict[str, float], b: dict[str, float]) -> float:
    return 0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))


def _length_label(text: str) -> str:
    words = len(text.split())
    return next(name for name, low, high in LENGTH_BUCKETS if low <= words < high)


def _kmeans(
    vectors: np.ndarray, k: int, seed: int = 0, rounds: int = 15
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centroids = vectors[rng.choice(len(vectors), size=k, replace=False)]
    labels = np.zeros(len(vectors), dtype=np.int64)
    for _ in range(rounds):
        labels = np.argmax(vectors @ centroids.T, axis=1)
        for c in range(k):
            members = vectors[labels == c]
            if len(members):
                mean = members.mean(axis=0)
                centroids[c] = mean / max(float(np.linalg.norm(mean)), 1e-9)
    return labels, centroids


def _cluster_names(texts: list[str], labels: np.ndarray, k: int) -> list[str]:
    names = []
    for c in range(k):
        words = Counter(w for t, label in zip(texts, labels) if label == c for w in set(_tokens(t)))
        top = [w for w, _ in words.most_common(3)]
        names.append(" / ".join(top) or f"group {c + 1}")
    return names


def compare_with_production(
    dataset: Dataset,
    queries: list[str],
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
    seed: int = 0,
) -> DistributionReport:
    """How the dataset's mix of requests compares with a sample of production queries."""
    rng = np.random.default_rng(seed)
    users: list[str] = []
    tags: list[str | None] = []
    for example in dataset.examples:
        if example.is_broken:
            continue
        first = next(
            (m for m in example.messages if isinstance(m, dict) and m.get("role") == "user"), None
        )
        if first is not None:
            users.append(message_text(first.get("content")))
            tags.append(example.tags[0] if example.tags else None)
    queries = [q for q in queries if q and q.strip()]
    if not users or not queries:
        raise ValueError("Need at least one example with a user message and one production query.")
    if len(users) > MAX_SIDE:
        keep = np.sort(rng.choice(len(users), MAX_SIDE, replace=False))
        users, tags = [users[i] for i in keep], [tags[i] for i in keep]
    if len(queries) > MAX_SIDE:
        queries = [queries[i] for i in np.sort(rng.choice(len(queries), MAX_SIDE, replace=False))]
    check(cancelled)
    if progress:
        progress(0.2, "Comparing words")
    data_vectors, idf = _vectors(users)
    query_vectors, _ = _vectors(queries, idf)
    check(cancelled)
    best = np.zeros(len(queries), dtype=np.int64)
    best_similarity = np.zeros(len(queries), dtype=np.float32)
    for start in range(0, len(queries), 512):
        block = query_vectors[start : start + 512] @ data_vectors.T
        best[start : start + 512] = block.argmax(axis=1)
        best_similarity[start : start + 512] = block.max(axis=1)
        check(cancelled)
    if progress:
        progress(0.6, "Comparing topics")

    length_order = [name for name, _, _ in LENGTH_BUCKETS]
    length_production = _mix([_length_label(q) for q in queries], length_order)
    length_dataset = _mix([_length_label(u) for u in users], length_order)
    if sum(t is not None for t in tags) >= 0.8 * len(tags):
        source = "tags"
        data_labels = [t or "untagged" for t in tags]
        query_labels = [data_labels[i] for i in best]
    else:
        source = "clusters"
        k = max(2, min(8, (len(users) + len(queries)) // 20))
        combined = np.concatenate([data_vectors, query_vectors])
        labels, _ = _kmeans(combined, min(k, len(combined)), seed)
        names = _cluster_names(users + queries, labels, int(labels.max()) + 1)
        data_labels = [names[c] for c in labels[: len(users)]]
        query_labels = [names[c] for c in labels[len(users) :]]
    topic_order = sorted(set(data_labels) | set(query_labels))
    topic_production = _mix(query_labels, topic_order)
    topic_dataset = _mix(data_labels, topic_order)
    uncovered = best_similarity < UNCOVERED_SIMILARITY
    uncovered_share = float(uncovered.mean())

    findings = _mismatch_findings(
        length_production, length_dataset, topic_production, topic_dataset, uncovered_share
    )
    if progress:
        progress(1.0, "Compared with production")
    return DistributionReport(
        n_queries=len(queries),
        n_examples=len(users),
        length_mix=[MixRow(k, length_production[k], length_dataset[k]) for k in length_order],
        topic_mix=sorted(
            (MixRow(k, topic_production[k], topic_dataset[k]) for k in topic_order),
            key=lambda row: -abs(row.production - row.dataset),
        ),
        topic_source=source,
        uncovered_share=uncovered_share,
        uncovered_queries=[q for q, u in zip(queries, uncovered) if u][:20],
        findings=findings,
    )


def _biggest_gap(production: dict[str, float], data: dict[str, float]) -> str:
    label = max(production, key=lambda k: abs(production[k] - data.get(k, 0.0)))
    return (
        f"'{label}' is {100 * production[label]:.0f}% of production queries but "
        f"{100 * data.get(label, 0.0):.0f}% of the dataset"
    )


def _mismatch_findings(length_p, length_d, topic_p, topic_d, uncovered_share) -> list[Finding]:
    findings = []
    if _distance(topic_p, topic_d) >= MISMATCH_DISTANCE:
        findings.append(
            Finding(
                WARNING,
                "distribution_mismatch",
                f"The dataset's mix of topics differs from production: {_biggest_gap(topic_p, topic_d)}.",
                fix="Add examples for what production asks most, so the model does not "
                "over-learn the rare cases.",
            )
        )
    if _distance(length_p, length_d) >= MISMATCH_DISTANCE:
        findings.append(
            Finding(
                WARNING,
                "length_mismatch",
                f"Request lengths differ from production: {_biggest_gap(length_p, length_d)}.",
                fix="Add examples with requests as long (or as short) as real ones.",
            )
        )
    if uncovered_share >= UNCOVERED_WARNING_SHARE:
        findings.append(
            Finding(
                WARNING,
                "production_not_covered",
                f"{100 * uncovered_share:.0f}% of production queries are unlike every training "
                "example.",
                fix="Look at the uncovered queries and add examples like them.",
            )
        )
    if not findings:
        findings.append(
            Finding(
                INFO,
                "distribution_ok",
                "The dataset's mix of topics and lengths is close to the production sample.",
            )
        )
    return findings
