"""Edits to a dataset that return their own inverse, so an editor can undo and redo them.

`edit.apply(dataset)` changes `dataset.examples` in place and returns the edit that
undoes it (Orange3's paint-data pattern); the desktop wraps each one in a QUndoCommand.
Examples are immutable, so an edit swaps whole examples: an inverse is just the old
example, and undoing never re-parses anything.

The functions below the edit types build the edits a user asks for (type in a message,
pick a role, tag, bulk replace, ...) from the dataset as it is now. They never change
the dataset themselves, so a caller may build a bulk edit in a background thread and
apply it on the GUI thread.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from core.dataset.model import ROLES, Dataset, Example, message_text
from core.dataset.progress import IsCancelled, Progress, check
from core.figures import count_text

# Rebuilding the list beats repeated `del`/`insert` (each O(n)) past this many rows.
_REBUILD_AT = 32


@dataclass(frozen=True)
class ReplaceExamples:
    """Put each `(index, example)` in place of the example at that index."""

    changes: tuple[tuple[int, Example], ...]
    label: str = "Edit example"
    # Consecutive edits with the same key are one undo step (typing in one message).
    merge_key: tuple | None = None

    def apply(self, dataset: Dataset) -> ReplaceExamples:
        examples = dataset.examples
        old = tuple((index, examples[index]) for index, _ in self.changes)
        for index, example in self.changes:
            examples[index] = example
        return ReplaceExamples(old, self.label, self.merge_key)

    @property
    def indices(self) -> list[int]:
        return [index for index, _ in self.changes]


@dataclass(frozen=True)
class InsertExamples:
    """Insert examples so that each ends up at its index (indices ascending, final positions)."""

    items: tuple[tuple[int, Example], ...]
    label: str = "Add examples"

    def apply(self, dataset: Dataset) -> RemoveExamples:
        examples = dataset.examples
        items = sorted(self.items, key=lambda item: item[0])
        if len(items) < _REBUILD_AT:
            for index, example in items:
                examples.insert(index, example)
        else:
            merged: list[Example] = []
            old = iter(examples)
            for index, example in items:
                while len(merged) < index:
                    merged.append(next(old))
                merged.append(example)
            merged.extend(old)
            examples[:] = merged
        return RemoveExamples(tuple(index for index, _ in items), self.label)

    @property
    def indices(self) -> list[int]:
        return sorted(index for index, _ in self.items)


@dataclass(frozen=True)
class RemoveExamples:
    """Remove the examples at these indices (of the dataset as it is before removing)."""

    indices_to_remove: tuple[int, ...]
    label: str = "Delete examples"

    def apply(self, dataset: Dataset) -> InsertExamples:
        examples = dataset.examples
        indices = sorted(set(self.indices_to_remove))
        removed = tuple((index, examples[index]) for index in indices)
        if len(indices) < _REBUILD_AT:
            for index in reversed(indices):
                del examples[index]
        else:
            drop = set(indices)
            examples[:] = [e for position, e in enumerate(examples) if position not in drop]
        return InsertExamples(removed, self.label)

    @property
    def indices(self) -> list[int]:
        return sorted(set(self.indices_to_remove))


@dataclass(frozen=True)
class MoveExample:
    """Move one example from one index to another (the index it has after the move)."""

    source: int
    target: int
    label: str = "Move example"

    def apply(self, dataset: Dataset) -> MoveExample:
        example = dataset.examples.pop(self.source)
        dataset.examples.insert(self.target, example)
        return MoveExample(self.target, self.source, self.label)


@dataclass(frozen=True)
class EditBatch:
    """Several edits as one: applied in order, undone in reverse order."""

    edits: tuple = field(default_factory=tuple)
    label: str = "Edit"

    def apply(self, dataset: Dataset) -> EditBatch:
        inverses = [edit.apply(dataset) for edit in self.edits]
        return EditBatch(tuple(reversed(inverses)), self.label)


Edit = ReplaceExamples | InsertExamples | RemoveExamples | MoveExample | EditBatch


# --- one example, one message ---------------------------------------------------------
def _with_messages(example: Example, messages: list[dict]) -> Example:
    return example.replace(messages=messages)


def _content_with_text(content, text: str):
    """The message content with its text replaced; a single text part stays a part list."""
    if isinstance(content, list):
        texts = [p for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        if len(texts) == 1 and len(content) == 1:
            return [{**texts[0], "text": text}]
    return text


def set_message_text(
    dataset: Dataset, index: int, message_index: int, text: str
) -> ReplaceExamples:
    """Typing in a message: consecutive calls for the same message merge into one undo step."""
    example = dataset.examples[index]
    messages = example.messages
    message = dict(messages[message_index])
    message["content"] = _content_with_text(message.get("content"), text)
    messages[message_index] = message
    return ReplaceExamples(
        ((index, _with_messages(example, messages)),),
        "Type in a message",
        merge_key=("text", example.id, message_index),
    )


def set_message_role(
    dataset: Dataset, index: int, message_index: int, role: str
) -> ReplaceExamples:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    example = dataset.examples[index]
    messages = example.messages
    messages[message_index] = {**messages[message_index], "role": role}
    return ReplaceExamples(((index, _with_messages(example, messages)),), f"Make message {role}")


def next_role(messages: Sequence[dict]) -> str:
    """The role a new message at the end should have so that turns keep alternating."""
    for message in reversed(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "user":
            return "assistant"
        if role in ("assistant", "system", "tool"):
            return "user" if role != "tool" else "assistant"
    return "user"


def insert_message(
    dataset: Dataset, index: int, position: int | None = None, message: dict | None = None
) -> ReplaceExamples:
    """Add a message at `position` (the end by default), with the role that fits there."""
    example = dataset.examples[index]
    messages = example.messages
    position = len(messages) if position is None else position
    if message is None:
        message = {"role": next_role(messages[:position]), "content": ""}
    messages.insert(position, dict(message))
    return ReplaceExamples(((index, _with_messages(example, messages)),), "Add a message")


def duplicate_message(dataset: Dataset, index: int, message_index: int) -> ReplaceExamples:
    example = dataset.examples[index]
    messages = example.messages
    messages.insert(message_index + 1, dict(messages[message_index]))
    return ReplaceExamples(((index, _with_messages(example, messages)),), "Duplicate a message")


def remove_message(dataset: Dataset, index: int, message_index: int) -> ReplaceExamples:
    example = dataset.examples[index]
    messages = example.messages
    del messages[message_index]
    return ReplaceExamples(((index, _with_messages(example, messages)),), "Delete a message")


def move_message(dataset: Dataset, index: int, message_index: int, target: int) -> ReplaceExamples:
    example = dataset.examples[index]
    messages = example.messages
    if not 0 <= target < len(messages):
        raise IndexError(f"cannot move message {message_index + 1} to position {target + 1}")
    messages.insert(target, messages.pop(message_index))
    return ReplaceExamples(((index, _with_messages(example, messages)),), "Move a message")


def set_tags(dataset: Dataset, index: int, tags: Iterable[str]) -> ReplaceExamples:
    clean = tuple(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))
    example = dataset.examples[index]
    return ReplaceExamples(((index, example.replace(tags=clean)),), "Change tags")


def set_reviewed(dataset: Dataset, indices: Iterable[int], reviewed: bool) -> ReplaceExamples:
    changes = tuple(
        (index, dataset.examples[index].replace(reviewed=reviewed))
        for index in indices
        if dataset.examples[index].reviewed != reviewed
    )
    return ReplaceExamples(changes, "Mark reviewed" if reviewed else "Mark not reviewed")


def set_rating(dataset: Dataset, index: int, rating: int | None) -> ReplaceExamples:
    if rating is not None and not 1 <= rating <= 5:
        raise ValueError(f"a rating is 1 to 5 stars (or none), not {rating!r}")
    example = dataset.examples[index]
    return ReplaceExamples(((index, example.replace(rating=rating)),), "Rate example")


def replace_example_record(dataset: Dataset, index: int, record: dict) -> ReplaceExamples:
    """Replace an example's whole record (e.g. a repaired line), keeping its id and marks."""
    example = dataset.examples[index]
    if example.is_broken:
        repaired = Example.from_record(record)
        new = Example(
            repaired.record,
            id=example.id,
            tags=repaired.tags or example.tags,
            reviewed=repaired.reviewed,
            rating=repaired.rating,
            line=example.line,
        )
    else:
        new = example.replace(record=record)
    return ReplaceExamples(((index, new),), "Repair example")


# --- whole examples ---------------------------------------------------------------------
def new_example(system_prompt: str | None = None) -> Example:
    """An empty conversation ready to be written: (system,) user, assistant."""
    messages = [{"role": "user", "content": ""}, {"role": "assistant", "content": ""}]
    if system_prompt:
        messages.insert(0, {"role": "system", "content": system_prompt})
    return Example.from_messages(messages)


def add_examples(
    dataset: Dataset,
    examples: Sequence[Example],
    at: int | None = None,
    label: str = "Add examples",
) -> InsertExamples:
    at = len(dataset.examples) if at is None else at
    return InsertExamples(tuple((at + n, e) for n, e in enumerate(examples)), label)


def duplicate_examples(dataset: Dataset, indices: Iterable[int]) -> InsertExamples:
    """Each copy goes right after its original."""
    items = []
    for shift, index in enumerate(sorted(set(indices))):
        items.append((index + shift + 1, dataset.examples[index].duplicate()))
    return InsertExamples(
        tuple(items), "Duplicate examples" if len(items) > 1 else "Duplicate example"
    )


def remove_examples(indices: Iterable[int]) -> RemoveExamples:
    indices = tuple(sorted(set(indices)))
    return RemoveExamples(indices, "Delete examples" if len(indices) > 1 else "Delete example")


def conversations_as_examples(
    conversations: Iterable[dict | list], tag: str | None = None
) -> list[Example]:
    """Examples from conversation dicts ({"messages": [...]}) or bare message lists."""
    examples = []
    for conversation in conversations:
        if isinstance(conversation, list):
            record = {"messages": conversation}
        elif isinstance(conversation, dict):
            record = conversation
        else:
            raise ValueError(
                f"a conversation is a dict or a list of messages, not {conversation!r}"
            )
        example = Example.from_record(record)
        tags = tuple(example.tags) + ((tag,) if tag and tag not in example.tags else ())
        examples.append(Example.from_messages(example.messages, tags=tags))
    return examples


# --- bulk actions -----------------------------------------------------------------------
@dataclass(frozen=True)
class BulkResult:
    """A bulk edit and what it will do, to show before (or after) applying it."""

    edit: Edit | None
    count: int  # replacements made, examples changed or examples removed
    summary: str


def replace_in_assistant_replies(
    dataset: Dataset,
    find: str,
    replace: str,
    case_sensitive: bool = True,
    whole_words: bool = False,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> BulkResult:
    """Find and replace in every assistant reply (user and system messages are left alone)."""
    if not find:
        raise ValueError("Type the text to find.")
    pattern = re.escape(find)
    if whole_words:
        pattern = rf"\b{pattern}\b"
    regex = re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)
    changes, total = [], 0
    needle = find if case_sensitive else find.lower()
    precheck = find.isascii()
    for index, example in enumerate(dataset.examples):
        if index % 2000 == 0:
            check(cancelled)
            if progress and index:
                progress(index / len(dataset.examples), f"Searched {index:,} examples")
        if example.is_broken:
            continue
        # Cheap pre-check on the raw line before parsing it (most examples do not match);
        # only safe when the line has no JSON escapes and the text folds case simply.
        if precheck:
            haystack = example.raw_text if case_sensitive else example.raw_text.lower()
            if needle not in haystack and "\\" not in haystack:
                continue
        messages = example.messages
        changed = False
        for position, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") != "assistant":
                continue
            text = message_text(message.get("content"))
            # A callable replacement keeps backslashes in `replace` literal.
            new_text, count = regex.subn(lambda _match: replace, text)
            if count:
                messages[position] = {
                    **message,
                    "content": _content_with_text(message.get("content"), new_text),
                }
                total += count
                changed = True
        if changed:
            changes.append((index, example.replace(messages=messages)))
    if not changes:
        return BulkResult(None, 0, f"“{find}” was not found in any assistant reply.")
    summary = (
        f"Replaced {count_text(total, 'occurrence')} in {count_text(len(changes), 'example')}."
    )
    return BulkResult(ReplaceExamples(tuple(changes), "Find and replace"), total, summary)


def set_system_prompt(
    dataset: Dataset,
    prompt: str,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> BulkResult:
    """Give every example the same system prompt (replace it, or add one first); empty removes."""
    changes = []
    for index, example in enumerate(dataset.examples):
        if index % 2000 == 0:
            check(cancelled)
            if progress and index:
                progress(index / len(dataset.examples), f"Checked {index:,} examples")
        if example.is_broken:
            continue
        messages = example.messages
        has_system = (
            bool(messages) and isinstance(messages[0], dict) and messages[0].get("role") == "system"
        )
        if prompt:
            if has_system and messages[0].get("content") == prompt:
                continue
            if has_system:
                messages[0] = {**messages[0], "content": prompt}
            else:
                messages.insert(0, {"role": "system", "content": prompt})
        elif has_system:
            del messages[0]
        else:
            continue
        changes.append((index, example.replace(messages=messages)))
    if not changes:
        return BulkResult(None, 0, "Every example already has this system prompt.")
    what = "Set the system prompt" if prompt else "Removed the system prompt"
    return BulkResult(
        ReplaceExamples(tuple(changes), "Set one system prompt"),
        len(changes),
        f"{what} in {count_text(len(changes), 'example')}.",
    )


def remove_duplicates(
    dataset: Dataset, progress: Progress | None = None, cancelled: IsCancelled | None = None
) -> BulkResult:
    """Delete exact duplicates (same conversation), keeping the first of each."""
    seen: set[str] = set()
    drop = []
    for index, example in enumerate(dataset.examples):
        if index % 2000 == 0:
            check(cancelled)
            if progress and index:
                progress(index / len(dataset.examples), f"Compared {index:,} examples")
        digest = example.content_hash()
        if digest in seen:
            drop.append(index)
        else:
            seen.add(digest)
    if not drop:
        return BulkResult(None, 0, "No exact duplicates.")
    return BulkResult(
        RemoveExamples(tuple(drop), "Delete duplicates"),
        len(drop),
        f"Deleted {count_text(len(drop), 'exact duplicate')}; the first of each was kept.",
    )
