"""Eval sets: the prompts a model is measured on, their reference answers and their checks.

An eval set comes from a JSONL file in the OpenAI messages format (one conversation a
line; a final assistant message, if present, is the reference answer) or from a
dataset version's validation split. Each line may carry `checks` (see `Checks`), an
`id` and a `category`. The content hash identifies a version of the set, so every
stored result says exactly which prompts it was measured on.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jsonschema

from core.dataset.versions import load_version

RECOMMENDED_MIN_EXAMPLES = 100
RECOMMENDED_MAX_EXAMPLES = 200
ROLES = ("system", "user", "assistant", "tool")
MAX_ERRORS_SHOWN = 10
# Where other eval tools keep the reference answer (OpenAI evals 'ideal', promptfoo
# 'expected', lm-eval 'answer', prompt/completion sets): read as if it ended `messages`.
REFERENCE_FIELDS = ("reference", "ideal", "expected", "answer", "completion")
KNOWN_FIELDS = ("messages", "checks", "id", "category", *REFERENCE_FIELDS)


class EvalSetError(ValueError):
    """An eval set that cannot be used, with where the problem is and what to do."""


@dataclass(frozen=True)
class Checks:
    """Automatic checks on one answer. Empty means nothing is checked beyond the reference.

    Format checks (valid_json, json_schema, regex, max_length, must_not_contain) decide
    format compliance; answer checks (exact, contains) decide accuracy, and override
    matching against the reference.
    """

    exact: str | None = field(
        default=None,
        metadata={
            "help": "The answer must equal this text (case, spacing and a final period ignored)."
        },
    )
    contains: tuple[str, ...] = field(
        default=(),
        metadata={"help": "The answer must contain each of these texts (case ignored)."},
    )
    must_not_contain: tuple[str, ...] = field(
        default=(),
        metadata={"help": "The answer must contain none of these texts (case ignored)."},
    )
    regex: str | None = field(
        default=None,
        metadata={"help": "The whole answer (stripped) must match this regular expression."},
    )
    valid_json: bool = field(
        default=False, metadata={"help": "The answer must be valid JSON and nothing else."}
    )
    json_schema: dict | None = field(
        default=None,
        metadata={"help": "The answer must be JSON that validates against this JSON Schema."},
    )
    max_length: int | None = field(
        default=None, metadata={"help": "The answer may have at most this many characters."}
    )

    def __post_init__(self) -> None:
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as error:
                raise ValueError(f"regex {self.regex!r} is not valid: {error}") from error
        if self.json_schema is not None:
            try:
                jsonschema.validators.validator_for(self.json_schema).check_schema(self.json_schema)
            except jsonschema.SchemaError as error:
                raise ValueError(
                    f"json_schema is not a valid JSON Schema: {error.message}"
                ) from error
        if self.max_length is not None and self.max_length < 1:
            raise ValueError(f"max_length must be at least 1, got {self.max_length}")

    @property
    def has_format_checks(self) -> bool:
        return bool(
            self.valid_json
            or self.json_schema is not None
            or self.regex is not None
            or self.max_length is not None
            or self.must_not_contain
        )

    @property
    def has_answer_checks(self) -> bool:
        return self.exact is not None or bool(self.contains)

    def as_dict(self) -> dict:
        """Only the checks that are set, in the same shape the JSONL file uses."""
        out = {}
        for key, value in asdict(self).items():
            if value in (None, False, ()):
                continue
            out[key] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, raw: object) -> Checks:
        if not isinstance(raw, dict):
            raise ValueError(f"'checks' must be an object, got {type(raw).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(
                f"unknown check {', '.join(map(repr, unknown))}; known checks: {', '.join(sorted(known))}"
            )
        values = dict(raw)
        for key in ("contains", "must_not_contain"):
            if key in values:
                items = values[key]
                items = [items] if isinstance(items, str) else items
                if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                    raise ValueError(f"'{key}' must be a text or a list of texts")
                values[key] = tuple(items)
        for key in ("exact", "regex"):
            if key in values and not isinstance(values[key], str):
                raise ValueError(f"'{key}' must be a text")
        if "valid_json" in values and not isinstance(values["valid_json"], bool):
            raise ValueError("'valid_json' must be true or false")
        if "json_schema" in values and not isinstance(values["json_schema"], dict):
            raise ValueError("'json_schema' must be a JSON Schema object")
        if "max_length" in values and (
            not isinstance(values["max_length"], int) or isinstance(values["max_length"], bool)
        ):
            raise ValueError("'max_length' must be a whole number of characters")
        return cls(**values)


@dataclass(frozen=True)
class EvalExample:
    """One prompt of an eval set. `index` is its position, stable within a set version."""

    index: int
    prompt: tuple[dict, ...]  # messages up to and including the last user message
    reference: str | None = None
    checks: Checks = field(default_factory=Checks)
    example_id: str | None = None
    category: str | None = None
    source_line: int | None = None
    # Top-level fields of the line that nothing reads (named when nothing can be scored).
    ignored_fields: tuple[str, ...] = field(default=(), compare=False)

    @property
    def user_text(self) -> str:
        """The last user message, the part a reader recognises the example by."""
        for message in reversed(self.prompt):
            if message["role"] == "user":
                return message["content"]
        return ""

    def as_dict(self) -> dict:
        out: dict = {"messages": [dict(m) for m in self.prompt]}
        if self.reference is not None:
            out["messages"].append({"role": "assistant", "content": self.reference})
        if self.checks.as_dict():
            out["checks"] = self.checks.as_dict()
        if self.example_id is not None:
            out["id"] = self.example_id
        if self.category is not None:
            out["category"] = self.category
        return out


@dataclass(frozen=True)
class EvalSet:
    name: str
    source: str
    examples: tuple[EvalExample, ...]

    @property
    def content_hash(self) -> str:
        """A short hash of the prompts, references and checks: the set's version."""
        canonical = json.dumps(
            [example.as_dict() for example in self.examples], sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    @property
    def size_warning(self) -> str | None:
        """What to tell the user when the set is too small to show real differences."""
        n = len(self.examples)
        if n >= RECOMMENDED_MIN_EXAMPLES:
            return None
        return (
            f"This eval set has {n} example{'s' if n != 1 else ''}; "
            f"{RECOMMENDED_MIN_EXAMPLES}-{RECOMMENDED_MAX_EXAMPLES} representative examples are "
            "recommended. With fewer, only large differences between models can be told apart "
            "from chance."
        )

    @property
    def scoring_warning(self) -> str | None:
        """Why accuracy will be empty, when no example has a reference or an answer check."""
        if any(e.reference is not None or e.checks.has_answer_checks for e in self.examples):
            return None
        ignored = sorted({name for e in self.examples for name in e.ignored_fields})
        hint = (
            f" The lines have {', '.join(repr(n) for n in ignored)}, which is not read."
            if ignored
            else ""
        )
        return (
            "No example has a reference answer or an answer check, so accuracy is not scored "
            "(nor perplexity on references; format checks still are). End each line's "
            "messages with the "
            "assistant's reference answer, or give it in a "
            + ", ".join(repr(n) for n in REFERENCE_FIELDS)
            + " field, or add checks.exact / checks.contains."
            + hint
        )

    @property
    def warnings(self) -> list[str]:
        """Everything to tell the user about the set before trusting its numbers."""
        return [w for w in (self.size_warning, self.scoring_warning) if w]

    @property
    def categories(self) -> list[str]:
        return sorted({e.category for e in self.examples if e.category})

    def to_jsonl(self) -> str:
        return "".join(
            json.dumps(example.as_dict(), ensure_ascii=False) + "\n" for example in self.examples
        )


def parse_example(raw: object, index: int, source: str, line: int | None = None) -> EvalExample:
    """One JSONL record to an example; errors name the source and line."""
    where = f"{source}:{line}" if line is not None else source
    if not isinstance(raw, dict):
        raise EvalSetError(f"{where}: each line must be a JSON object with 'messages'.")
    messages = raw.get("messages")
    if not isinstance(messages, list) or not messages:
        raise EvalSetError(
            f"{where}: 'messages' is missing or empty; give a list of "
            '{"role": ..., "content": ...} objects.'
        )
    cleaned = []
    for position, message in enumerate(messages):
        if not isinstance(message, dict):
            raise EvalSetError(f"{where}: messages[{position}] must be an object.")
        role, content = message.get("role"), message.get("content")
        if isinstance(content, list):  # OpenAI content parts: keep the text parts
            texts = [p.get("text") for p in content if isinstance(p, dict)]
            content = "\n".join(t for t in texts if isinstance(t, str))
        if role not in ROLES:
            raise EvalSetError(
                f"{where}: messages[{position}].role is {role!r}; use one of {', '.join(ROLES)}."
            )
        if not isinstance(content, str):
            raise EvalSetError(f"{where}: messages[{position}].content must be text.")
        cleaned.append({"role": role, "content": content})
    reference = None
    if cleaned[-1]["role"] == "assistant":
        reference = cleaned.pop()["content"]
    reference = _field_reference(raw, reference, where)
    if not cleaned or cleaned[-1]["role"] != "user":
        raise EvalSetError(
            f"{where}: the prompt must end with a user message (optionally followed by the "
            "reference assistant answer)."
        )
    try:
        checks = Checks.from_dict(raw["checks"]) if "checks" in raw else Checks()
    except (ValueError, TypeError) as error:
        raise EvalSetError(f"{where}: checks: {error}") from error
    example_id = raw.get("id")
    category = raw.get("category")
    if category is not None and not isinstance(category, str):
        raise EvalSetError(f"{where}: 'category' must be text.")
    return EvalExample(
        index=index,
        prompt=tuple(cleaned),
        reference=reference,
        checks=checks,
        example_id=None if example_id is None else str(example_id),
        category=category,
        source_line=line,
        ignored_fields=tuple(sorted(str(k) for k in raw if k not in KNOWN_FIELDS)),
    )


def _field_reference(raw: dict, reference: str | None, where: str) -> str | None:
    """The reference from a top-level field, checked against the assistant message."""
    for name in REFERENCE_FIELDS:
        if name not in raw or raw[name] is None:
            continue
        value = raw[name]
        if isinstance(value, list) and len(value) == 1:
            value = value[0]  # OpenAI evals' 'ideal' may be a one-item list
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise EvalSetError(
                f"{where}: '{name}' must be one text (the reference answer), got "
                f"{type(raw[name]).__name__}; for several acceptable answers use checks.contains."
            )
        value = str(value)
        if reference is not None and value.strip() != reference.strip():
            raise EvalSetError(
                f"{where}: '{name}' ({value[:40]!r}) differs from the reference already given "
                f"({reference[:40]!r}, the final assistant message or an earlier field); keep "
                "one reference answer."
            )
        reference = value
    return reference


def parse_jsonl(text: str, source: str) -> list[EvalExample]:
    """Every example in a JSONL text; all problems (up to ten) are reported together."""
    examples, errors = [], []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}:{line_number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as error:
            errors.append(f"{where}: not valid JSON ({error.msg} at column {error.colno}).")
            continue
        try:
            examples.append(parse_example(raw, len(examples), source, line_number))
        except EvalSetError as error:
            errors.append(str(error))
    if errors:
        shown = errors[:MAX_ERRORS_SHOWN]
        more = len(errors) - len(shown)
        raise EvalSetError(
            "The eval set has problems; fix these lines and load it again:\n"
            + "\n".join(shown)
            + (f"\n... and {more} more" if more else "")
        )
    if not examples:
        raise EvalSetError(f"{source} holds no examples: give one JSON conversation per line.")
    return examples


def load_eval_set_file(path: str | Path, name: str | None = None) -> EvalSet:
    """An eval set from a JSONL file (OpenAI messages format)."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise EvalSetError(f"{path} does not exist; choose a JSONL eval set file.") from error
    except UnicodeDecodeError as error:
        raise EvalSetError(f"{path} is not UTF-8 text; save it as UTF-8 JSONL.") from error
    examples = parse_jsonl(text, str(path))
    return EvalSet(name or path.stem, str(path.resolve()), tuple(examples))


def eval_set_from_dataset_version(project, version_id: int, name: str | None = None) -> EvalSet:
    """The validation split of one dataset version, as an eval set."""
    try:
        version = load_version(project, version_id)
    except LookupError as error:
        raise EvalSetError(f"{error} Choose a saved dataset version.") from error
    valid_path = Path(getattr(version, "valid_path", ""))
    if not getattr(version, "n_valid", 1) or not valid_path.is_file():
        raise EvalSetError(
            f"Dataset version {getattr(version, 'label', version_id)} has no validation split; "
            "save a version with a validation share on the Dataset page, or load the eval set "
            "from a JSONL file."
        )
    examples = parse_jsonl(valid_path.read_text(encoding="utf-8"), str(valid_path))
    dataset = getattr(version, "dataset", None) or "dataset"
    label = name or f"{dataset} {getattr(version, 'label', version_id)} validation"
    return EvalSet(label, f"dataset version {version_id} ({valid_path})", tuple(examples))


def eval_set_from_examples(name: str, source: str, records: list[dict]) -> EvalSet:
    """An eval set from in-memory JSONL-shaped records (used by the GUI and tests)."""
    examples = [parse_example(r, i, source, i + 1) for i, r in enumerate(records)]
    if not examples:
        raise EvalSetError("An eval set needs at least one example.")
    return EvalSet(name, source, tuple(examples))
