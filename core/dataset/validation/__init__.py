"""Validation of chat datasets: structural errors and the known pitfalls, as findings.

`validate_dataset` reads each example once, keeping only small per-example features
(reply style, system prompt, length, a duplicate key, a MinHash signature), so 100,000
conversations validate in seconds and in little memory. Checks that need a model (the
base model already gives the reply; production queries) are in base_model.py and
distribution.py and run in the background.
"""

from __future__ import annotations

from dataclasses import astuple

import numpy as np

from core.dataset.findings import ERROR, WARNING, Finding
from core.dataset.model import Dataset, message_text
from core.dataset.progress import Cancelled, IsCancelled, Progress, check
from core.dataset.split import split_indices
from core.dataset.tokens import (
    CHARS_PER_TOKEN,
    TEMPLATE_TOKENS_PER_MESSAGE,
    count_tokens,
    load_tokenizer,
    tokenizer_name,
)
from core.dataset.validation.coverage import recorded_need, size_findings
from core.dataset.validation.duplicates import (
    SignatureBuilder,
    cluster_heads,
    dedup_text,
    verified_pairs,
)
from core.dataset.validation.lengths import length_outlier_findings, token_overflow_findings
from core.dataset.validation.report import ValidationOptions, ValidationReport
from core.dataset.validation.structure import check_record
from core.dataset.validation.style import (
    ReplyFeatures,
    reply_features,
    style_findings,
    style_mix,
    whitespace_findings,
)
from core.dataset.validation.system_prompts import system_prompt_findings

__all__ = [
    "ValidationOptions",
    "ValidationReport",
    "check_example",
    "validate_dataset",
]

_PROGRESS_EVERY = 5000


def _texts_by_role(messages: list) -> tuple[str | None, list[str], list[str]]:
    system, users, replies = None, [], []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        content = message.get("content")
        text = content if isinstance(content, str) else message_text(content)
        if role == "system" and index == 0:
            system = text
        elif role == "user":
            users.append(text)
        elif role == "assistant":
            replies.append(text)
    return system, users, replies


def _estimated_tokens(system: str | None, users: list[str], replies: list[str], n: int) -> int:
    chars = len(system or "") + sum(map(len, users)) + sum(map(len, replies))
    return int(chars / CHARS_PER_TOKEN) + 1 + TEMPLATE_TOKENS_PER_MESSAGE * n


def _exact_key(messages: list) -> int:
    return hash(
        tuple(
            (str(m.get("role")), message_text(m.get("content")).strip())
            for m in messages
            if isinstance(m, dict)
        )
    )


def _exact_key_of_texts(system, users: list[str], replies: list[str], n_messages: int) -> int:
    """The duplicate key from texts already extracted (the validation pass's fast path)."""
    return hash((system, tuple(users), tuple(replies), n_messages))


def check_example(dataset: Dataset, index: int) -> list[Finding]:
    """The findings one example has on its own (structure, whitespace): for live editing."""
    example = dataset.examples[index]
    file = str(dataset.source_path) if dataset.source_path else None
    place = {"file": file, "line": example.line, "example_id": example.id}
    if example.is_broken:
        return [
            Finding(
                ERROR,
                "invalid_json",
                f"Example {index + 1} is not a readable conversation: {example.parse_error}.",
                fix="Fix its text, or delete it.",
                example=index,
                **place,
            )
        ]
    record = example.parsed_record()
    findings = check_record(record, index, example.line, file, example.id)
    messages = record.get("messages") if isinstance(record, dict) else None
    if isinstance(messages, list):
        findings += whitespace_findings(index, messages, place)
    return findings


def validate_dataset(
    dataset: Dataset,
    options: ValidationOptions | None = None,
    project=None,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> ValidationReport:
    """Every finding for the dataset. Tokenizes only when options.tokenizer is set."""
    options = options or ValidationOptions()
    examples = dataset.examples
    n = len(examples)
    file = str(dataset.source_path) if dataset.source_path else None

    def place(i: int) -> dict:
        return {"file": file, "line": examples[i].line, "example_id": examples[i].id}

    findings: list[Finding] = []
    broken_lines = _broken_lines(examples, dataset.load_findings)
    reported_lines: set[int] = set()
    for finding in dataset.load_findings:
        if finding.line in broken_lines and finding.example is None:
            finding = Finding(**{**finding.as_dict(), "example": broken_lines[finding.line]})
            reported_lines.add(finding.line)
        findings.append(finding)

    features: list[ReplyFeatures] = []
    prompts: dict[int, str | None] = {}
    lengths = np.zeros(n, dtype=np.int64)
    content_chars = np.zeros(n, dtype=np.int64)  # user + assistant: the system prompt is shared
    usable = np.zeros(n, dtype=bool)
    # One int64 per example (a dict of them cost ~100 bytes each); duplicates are found
    # after the pass by sorting the keys.
    keys = np.zeros(n, dtype=np.int64)
    has_key = np.zeros(n, dtype=bool)
    # Equal values are kept once: most examples share their reply features and their
    # system prompt, and a million copies of one prompt would outweigh the file itself.
    shared: dict = {}
    signatures = SignatureBuilder(capacity=n)
    role_counts: dict[str, int] = {}

    for i, example in enumerate(examples):
        if i % _PROGRESS_EVERY == 0 and i:
            check(cancelled)
            if progress is not None:
                progress(0.7 * i / n, f"Checked {i:,} of {n:,} examples")
        record = example.parsed_record()
        if record is None:
            if example.line not in reported_lines:
                findings.append(
                    Finding(
                        ERROR,
                        "invalid_json",
                        f"Example {i + 1} is not a readable conversation: {example.parse_error}.",
                        fix="Fix its text, or delete it.",
                        example=i,
                        file=file,
                        line=example.line,
                    )
                )
            features.append(_NO_REPLY)
            signatures.add(b"")
            continue
        problems = check_record(record, i, example.line, file)
        messages = record.get("messages") if isinstance(record, dict) else None
        if not isinstance(messages, list):
            findings += problems
            features.append(_NO_REPLY)
            signatures.add(b"")
            continue
        if problems:
            findings += [Finding(**{**f.as_dict(), "example_id": example.id}) for f in problems]
        usable[i] = not any(f.severity == ERROR for f in problems)
        findings += whitespace_findings(i, messages, {"file": file, "line": example.line})
        system, users, replies = _texts_by_role(messages)
        # The dataset-wide comparisons look at well-formed examples only.
        if usable[i]:
            prompts[i] = shared.setdefault(system, system)
            found = reply_features(replies)
            features.append(shared.setdefault(("features", *astuple(found)), found))
        else:
            features.append(_NO_REPLY)
        lengths[i] = _estimated_tokens(system, users, replies, len(messages))
        content_chars[i] = sum(map(len, users)) + sum(map(len, replies))
        for message in messages:
            if isinstance(message, dict):
                role = str(message.get("role"))
                role_counts[role] = role_counts.get(role, 0) + 1
        keys[i] = _exact_key_of_texts(system, users, replies, len(messages))
        has_key[i] = True
        signatures.add(dedup_text(users, replies) if (users or replies) else b"")

    exact_of = _first_of_equal(keys, has_key)
    del keys, has_key, shared
    check(cancelled)
    if progress is not None:
        progress(0.7, "Looking for duplicates")
    sides = None
    if options.split is not None:
        _, valid_idx = split_indices(examples, options.split)
        sides = np.zeros(n, dtype=bool)
        sides[valid_idx] = True
    findings += _duplicate_findings(examples, exact_of, place)
    near_pairs: list = []
    if options.near_duplicates and n > 1:
        near_pairs = verified_pairs(
            signatures.finish(),
            lambda i: _dedup_text_of(examples[i]),
            options.near_duplicate_threshold,
            skip=exact_of >= 0,
        )
        for i, (head, similarity) in sorted(cluster_heads(near_pairs).items()):
            findings.append(
                Finding(
                    WARNING,
                    "near_duplicate",
                    f"Example {i + 1} is {100 * similarity:.0f}% the same as example {head + 1}.",
                    fix="Keep the better of the two, or make them genuinely different.",
                    example=i,
                    **place(i),
                )
            )
    if sides is not None:
        findings += _overlap_findings(exact_of, near_pairs, sides, place)

    check(cancelled)
    if progress is not None:
        progress(0.8, "Comparing replies, prompts and lengths")
    findings += style_findings(features, place)
    findings += system_prompt_findings(prompts, place) if prompts else []
    token_counts = None
    if options.tokenizer is not None:
        tokenizer = load_tokenizer(options.tokenizer)
        token_counts = count_tokens(
            (e.messages for e in examples), tokenizer, n, _sub(progress, 0.8, 0.98), cancelled
        )
        if options.max_seq_length:
            findings += token_overflow_findings(
                token_counts, options.max_seq_length, tokenizer_name(tokenizer), place
            )
        findings += length_outlier_findings(np.where(usable, token_counts, 0), "tokens", place)
    else:
        findings += length_outlier_findings(np.where(usable, content_chars, 0), "characters", place)
    findings += size_findings(int(usable.sum()), recorded_need(project))
    if progress is not None:
        progress(1.0, "Validation done")
    stats = {
        "examples": n,
        "usable": int(usable.sum()),
        "roles": role_counts,
        "format_mix": style_mix(features),
        "system_prompts": len(set(prompts.values())),
        "exact_duplicates": int((exact_of >= 0).sum()),
        "near_duplicate_pairs": len(near_pairs),
        "tokens": token_counts if token_counts is not None else lengths,
        "tokens_estimated": token_counts is None,
    }
    return ValidationReport.build(findings, n, stats)


def validate_snapshot(
    dataset: Dataset,
    options: ValidationOptions | None = None,
    project=None,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> list[Finding] | None:
    """Every finding for a snapshot being edited (the editor's background check); None if
    cancelled, since an edit made meanwhile starts a fresh check."""
    try:
        report = validate_dataset(
            dataset, options, project=project, progress=progress, cancelled=cancelled
        )
    except Cancelled:
        return None
    return list(report.findings)


_NO_REPLY = ReplyFeatures(None, False, False)  # shared: never changed once made


def _first_of_equal(keys: np.ndarray, has_key: np.ndarray) -> np.ndarray:
    """For each example, the index of the first earlier example with the same key, or -1."""
    exact_of = np.full(len(keys), -1, dtype=np.int64)
    idx = np.flatnonzero(has_key)
    if len(idx) == 0:
        return exact_of
    # return_index gives each key's first occurrence (numpy sorts stably for it).
    _, first_pos, inverse = np.unique(keys[idx], return_index=True, return_inverse=True)
    first = idx[first_pos[inverse.reshape(-1)]]
    exact_of[idx] = np.where(first != idx, first, -1)
    return exact_of


def _broken_lines(examples, load_findings: list[Finding]) -> dict[int, int]:
    """{file line: example index} of the broken lines reading already reported."""
    lines = {f.line for f in load_findings if f.line and f.example is None}
    if not lines:
        return {}
    index_of_line = getattr(examples, "index_of_line", None)
    if index_of_line is not None:  # FileExamples: no pass over the file for a few lines
        found = {line: index_of_line(line) for line in lines}
        return {line: i for line, i in found.items() if i is not None and examples[i].is_broken}
    return {e.line: i for i, e in enumerate(examples) if e.is_broken and e.line in lines}


def _sub(progress: Progress | None, start: float, end: float) -> Progress | None:
    if progress is None:
        return None
    return lambda fraction, message: progress(start + (end - start) * fraction, message)


def _dedup_text_of(example) -> bytes:
    record = example.parsed_record()
    messages = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(messages, list):
        return b""
    _, users, replies = _texts_by_role(messages)
    return dedup_text(users, replies)


def _duplicate_findings(examples, exact_of: np.ndarray, place) -> list[Finding]:
    findings = []
    for i in np.flatnonzero(exact_of >= 0).tolist():
        first = int(exact_of[i])
        findings.append(
            Finding(
                WARNING,
                "duplicate",
                f"Example {i + 1} is identical to example {first + 1}.",
                fix="Delete the copy (Bulk actions: delete duplicates).",
                example=i,
                fixable=True,
                **place(i),
            )
        )
    return findings


def _overlap_findings(exact_of: np.ndarray, near_pairs, sides: np.ndarray, place) -> list[Finding]:
    """Validation examples that also appear (exactly or nearly) in training."""
    leaks: dict[int, tuple[int, str]] = {}
    for i in np.flatnonzero(exact_of >= 0).tolist():
        first = int(exact_of[i])
        if sides[i] != sides[first]:
            valid, train = (i, first) if sides[i] else (first, i)
            leaks.setdefault(valid, (train, "identical to"))
    for a, b, similarity in near_pairs:
        if sides[a] != sides[b]:
            valid, train = (a, b) if sides[a] else (b, a)
            leaks.setdefault(valid, (train, f"{100 * similarity:.0f}% the same as"))
    return [
        Finding(
            WARNING,
            "train_valid_overlap",
            f"Validation example {valid + 1} is {how} training example {train + 1}, so "
            "validation loss will look better than the model really is.",
            fix="Delete one of them, or make them genuinely different.",
            example=valid,
            **place(valid),
        )
        for valid, (train, how) in sorted(leaks.items())
    ]


def check_train_valid_overlap(
    train: Dataset, valid: Dataset, threshold: float = 0.8
) -> list[Finding]:
    """Overlap between two separate datasets (e.g. a version's two sides).

    Example indexes in the findings count training examples first, then validation ones.
    """
    combined = Dataset(train.examples + valid.examples, name=f"{train.name}+{valid.name}")
    sides = np.zeros(len(combined), dtype=bool)
    sides[len(train) :] = True
    exact_of = np.full(len(combined), -1, dtype=np.int64)
    first: dict[int, int] = {}
    builder = SignatureBuilder()
    for i, example in enumerate(combined.examples):
        record = example.parsed_record()
        messages = record.get("messages") if isinstance(record, dict) else None
        if not isinstance(messages, list):
            builder.add(b"")
            continue
        head = first.setdefault(_exact_key(messages), i)
        if head != i:
            exact_of[i] = head
        builder.add(_dedup_text_of(example))
    pairs = verified_pairs(
        builder.finish(), lambda i: _dedup_text_of(combined.examples[i]), threshold, exact_of >= 0
    )

    def place(i: int) -> dict:
        return {"line": combined.examples[i].line, "example_id": combined.examples[i].id}

    return _overlap_findings(exact_of, pairs, sides, place)
