"""The chat dataset in memory: examples (conversations) and the dataset that holds them.

An example read from JSONL keeps its original line as bytes and parses it only when
asked, so 100,000 conversations cost little more than the file itself, and an example
that was never edited is written back byte for byte (every field, the key order, even
the number formatting). An edited example holds its parsed record instead.

FineTune Studio's own fields (a stable id, tags, reviewed, rating) live under the
`finetune_studio` key of a record; training files never carry that key.
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STUDIO_KEY = "finetune_studio"
ROLES = ("system", "user", "assistant", "tool")
PREVIEW_CHARS = 120  # per preview; 100k rows x 2 previews stay ~0.2x of the file


def message_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list of parts,
    joined with nothing between them. This is the text the trainer trains on
    (core.training.conversations flattens content with it), and what chat templates that
    take parts render (they write each text part straight after the last), so the Dataset
    page counts, searches and checks the same text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "".join(parts)
    return ""


def dump_json_bytes(record: dict) -> bytes:
    """Compact-enough JSON for one line; a lone surrogate (from a \\ud800 escape) stays escaped."""
    try:
        return json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(record, ensure_ascii=True).encode("ascii")


def _preview(text: str) -> str:
    text = " ".join(text[: PREVIEW_CHARS * 2].split())
    return text[:PREVIEW_CHARS]


def new_example_id() -> str:
    """A fresh id for an example created in the editor."""
    return uuid.uuid4().hex[:12]


class Example:
    """One conversation: `messages` plus any other top-level fields, kept in their order.

    Treat an Example as immutable: `replace(...)` returns an edited copy, which keeps
    the id, so versions can tell "changed" from "added". Cheap per-row accessors for
    tables (`n_messages`, `first_user_text`, `first_assistant_text`, `tags`) never
    parse JSON.
    """

    __slots__ = (
        "_id",
        "_raw",
        "_record",
        "first_assistant_text",
        "first_user_text",
        "line",
        "n_messages",
        "parse_error",
        "rating",
        "reviewed",
        "tags",
    )

    def __init__(
        self,
        record: dict | None = None,
        *,
        raw: bytes | None = None,
        id: str | None = None,
        tags: Sequence[str] = (),
        reviewed: bool = False,
        rating: int | None = None,
        line: int | None = None,
        parse_error: str | None = None,
    ) -> None:
        self._raw = raw
        self._record = record
        self._id = id
        self.tags: tuple[str, ...] = tuple(tags)
        self.reviewed = bool(reviewed)
        self.rating = rating
        self.line = line  # 1-based line in the file it was read from, None for new ones
        self.parse_error = parse_error  # why the raw line is not a JSON object, or None
        self.n_messages = 0
        self.first_user_text = ""
        self.first_assistant_text = ""
        if record is not None:
            self._summarise(record)

    # --- construction -------------------------------------------------------------
    @classmethod
    def from_messages(cls, messages: list[dict], **kwargs: Any) -> Example:
        return cls({"messages": messages}, id=kwargs.pop("id", None) or new_example_id(), **kwargs)

    @classmethod
    def from_record(cls, record: dict, **kwargs: Any) -> Example:
        """An example from a parsed record; a `finetune_studio` key becomes its metadata."""
        record = dict(record)
        studio = record.pop(STUDIO_KEY, None)
        meta = _studio_fields(studio)
        meta.update(kwargs)
        return cls(record, **meta)

    @classmethod
    def from_line(cls, raw: bytes, record: Any, line: int | None) -> Example:
        """An example for a JSONL line already parsed by the reader (record may be anything)."""
        if not isinstance(record, dict):
            kind = type(record).__name__ if record is not None else "null"
            return cls(raw=raw, line=line, parse_error=f"the line is a JSON {kind}, not an object")
        studio = record.get(STUDIO_KEY)
        example = cls(raw=raw, line=line, **_studio_fields(studio))
        example._summarise(record)
        return example

    @classmethod
    def broken(cls, raw: bytes, line: int | None, error: str) -> Example:
        """A line that is not valid JSON, kept so that saving never loses it."""
        return cls(raw=raw, line=line, parse_error=error)

    def _summarise(self, record: dict) -> None:
        messages = record.get("messages")
        if not isinstance(messages, list):
            return
        self.n_messages = len(messages)
        for message in messages:
            if not isinstance(message, dict):
                continue
            role = message.get("role")
            if role == "user" and not self.first_user_text:
                self.first_user_text = _preview(message_text(message.get("content")))
            elif role == "assistant" and not self.first_assistant_text:
                self.first_assistant_text = _preview(message_text(message.get("content")))
                break

    # --- content ------------------------------------------------------------------
    @property
    def is_broken(self) -> bool:
        """True for a line that is not a JSON object; it has no messages to show."""
        return self.parse_error is not None

    @property
    def raw(self) -> bytes | None:
        """The original line (without newline) when the example is unedited, else None."""
        return self._raw

    @property
    def raw_text(self) -> str:
        """The original line as text (undecodable bytes shown as U+FFFD), or the record's JSON."""
        if self._raw is not None:
            return self._raw.decode("utf-8", errors="replace")
        return json.dumps(self.record, ensure_ascii=False)

    @property
    def record(self) -> dict:
        """A fresh copy of the record without FineTune Studio's own key ({} when broken)."""
        if self._record is not None:
            return copy.deepcopy(self._record)
        if self.parse_error is not None or self._raw is None:
            return {}
        record = json.loads(self._raw)
        record.pop(STUDIO_KEY, None)
        return record

    def parsed_record(self) -> Any:
        """The record without copying, for read-only passes over many examples.

        May still hold the `finetune_studio` key; None for a broken line. Never mutate it.
        """
        if self._record is not None:
            return self._record
        if self.parse_error is not None or self._raw is None:
            return None
        return json.loads(self._raw)

    @property
    def messages(self) -> list[dict]:
        """A fresh copy of the messages (an empty list when missing or not a list)."""
        messages = self.record.get("messages")
        return messages if isinstance(messages, list) else []

    @property
    def id(self) -> str:
        """Stable identity across edits and versions.

        An unedited example read from a file without ids gets one derived from its
        content, so re-importing the same file gives the same ids.
        """
        if self._id is None:
            self._id = self.content_hash()[:12]
        return self._id

    @property
    def has_explicit_id(self) -> bool:
        return self._id is not None

    def content_hash(self, parsed: Any = None) -> str:
        """sha256 of the record as training sees it, independent of formatting and key order.

        FineTune Studio's own key is excluded, so tagging an example does not change it.
        `parsed` may pass this example's already parsed record, to skip parsing it again.
        """
        if self.parse_error is not None:
            return hashlib.sha256(self._raw or b"").hexdigest()
        record = self.record if parsed is None else parsed
        if STUDIO_KEY in record:
            record = {k: v for k, v in record.items() if k != STUDIO_KEY}
        canonical = json.dumps(record, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()

    def ensure_id(self, parsed: Any = None) -> str:
        """The id, derived now from `parsed` (this example's parsed record) if not known yet."""
        if self._id is None:
            self._id = self.content_hash(parsed)[:12]
        return self._id

    def studio_fields(self) -> dict:
        """FineTune Studio's metadata as stored under `finetune_studio` (id always included)."""
        fields: dict[str, Any] = {"id": self.id}
        if self.tags:
            fields["tags"] = list(self.tags)
        if self.reviewed:
            fields["reviewed"] = True
        if self.rating is not None:
            fields["rating"] = self.rating
        return fields

    def has_studio_data(self) -> bool:
        """Whether saving must write the `finetune_studio` key to keep anything."""
        return bool(self._id is not None or self.tags or self.reviewed or self.rating is not None)

    def to_json_bytes(self, studio_fields: bool = True) -> bytes:
        """One JSONL line (no newline). An unedited example without metadata is its raw line."""
        if self._raw is not None and self._record is None:
            if self.parse_error is not None:
                return self._raw
            raw_has_studio = STUDIO_KEY.encode() in self._raw
            if not raw_has_studio and not (studio_fields and self.has_studio_data()):
                return self._raw
        record = self.record
        if studio_fields and self.has_studio_data():
            record[STUDIO_KEY] = self.studio_fields()
        return dump_json_bytes(record)

    def training_record(self) -> dict:
        """What a training file holds: `messages` (and `tools` when present), nothing else."""
        record = self.record
        out = {"messages": record.get("messages", [])}
        if "tools" in record:
            out["tools"] = record["tools"]
        return out

    # --- editing ------------------------------------------------------------------
    def replace(
        self,
        *,
        messages: list[dict] | None = None,
        record: dict | None = None,
        tags: Sequence[str] | None = None,
        reviewed: bool | None = None,
        rating: int | type[...] | None = ...,
    ) -> Example:
        """An edited copy with the same id (and source line); unspecified parts are kept."""
        content_changed = messages is not None or record is not None
        if record is not None:
            new_record = copy.deepcopy(record)
            new_record.pop(STUDIO_KEY, None)
        elif messages is not None:
            new_record = self.record
            new_record["messages"] = copy.deepcopy(messages)
        else:
            new_record = None
        new = Example(
            new_record,
            raw=None if content_changed else self._raw,
            id=self.id,
            tags=self.tags if tags is None else tags,
            reviewed=self.reviewed if reviewed is None else reviewed,
            rating=self.rating if rating is ... else rating,
            line=self.line,
            parse_error=None if content_changed else self.parse_error,
        )
        if not content_changed:
            new._record = copy.deepcopy(self._record) if self._record is not None else None
            new.n_messages = self.n_messages
            new.first_user_text = self.first_user_text
            new.first_assistant_text = self.first_assistant_text
        return new

    def duplicate(self) -> Example:
        """A copy with a new id (the user's "duplicate example")."""
        copy_ = Example(self.record, id=new_example_id(), tags=self.tags, rating=self.rating)
        if self.parse_error is not None:
            copy_ = Example.broken(self._raw or b"", None, self.parse_error)
            copy_._id = new_example_id()
        return copy_

    def __repr__(self) -> str:
        return f"Example(id={self.id!r}, n_messages={self.n_messages}, line={self.line})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Example):
            return NotImplemented
        return (
            self.id == other.id
            and self.tags == other.tags
            and self.reviewed == other.reviewed
            and self.rating == other.rating
            and self.content_hash() == other.content_hash()
        )

    __hash__ = None  # type: ignore[assignment]


def _studio_fields(studio: Any) -> dict:
    """Keyword arguments for Example from a stored `finetune_studio` value (ignoring junk)."""
    if not isinstance(studio, dict):
        return {}
    out: dict[str, Any] = {}
    if isinstance(studio.get("id"), str) and studio["id"]:
        out["id"] = studio["id"]
    tags = studio.get("tags")
    if isinstance(tags, list):
        out["tags"] = tuple(str(tag) for tag in tags if isinstance(tag, (str, int, float)))
    if isinstance(studio.get("reviewed"), bool):
        out["reviewed"] = studio["reviewed"]
    rating = studio.get("rating")
    if isinstance(rating, int) and not isinstance(rating, bool):
        out["rating"] = rating
    return out


@dataclass
class Dataset:
    """An ordered list of examples, where they came from, and what reading them found."""

    examples: list[Example] = field(default_factory=list)
    name: str = "dataset"
    source_path: Path | None = None
    source_format: str = "jsonl"
    # Problems found while reading (bad lines, encoding); validation adds the rest.
    load_findings: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self) -> Iterator[Example]:
        return iter(self.examples)

    def __getitem__(self, index: int) -> Example:
        return self.examples[index]

    @classmethod
    def from_records(cls, records: Iterable[dict], name: str = "dataset") -> Dataset:
        return cls([Example.from_record(record) for record in records], name=name)

    @classmethod
    def from_conversations(cls, conversations: Iterable[list[dict]], name: str = "dataset"):
        return cls([Example.from_messages(list(m)) for m in conversations], name=name)

    def records(self) -> list[dict]:
        """Every example's record (broken lines excluded), without FineTune Studio's key."""
        return [example.record for example in self.examples if not example.is_broken]

    def index_of(self, example_id: str) -> int | None:
        for index, example in enumerate(self.examples):
            if example.id == example_id:
                return index
        return None

    def all_tags(self) -> list[str]:
        return sorted({tag for example in self.examples for tag in example.tags})

    def ensure_unique_ids(self) -> int:
        """Give exact duplicates (which derive the same id) their own ids; return how many."""
        seen: set[str] = set()
        changed = 0
        for example in self.examples:
            example_id = example.id
            if example_id in seen:
                suffix = 2
                while f"{example_id}-{suffix}" in seen:
                    suffix += 1
                example._id = f"{example_id}-{suffix}"
                changed += 1
            seen.add(example.id)
        return changed
