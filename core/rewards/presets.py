"""The checkable reward presets. Each scores one answer (text) given its reference answer
(the training example's assistant reply, or None) from 0 (wrong) to 1 (right); the length
penalty scores from -1 to 0. Scores are graded where a partial answer is partly right, so
GRPO's group of answers differs in reward and has something to learn from.

Each preset is built from its options (a dict from the spec) and refuses bad options
with ValueError naming the option; scoring never raises (see limits.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import jsonschema

from core.rewards.limits import (
    compile_pattern,
    normalise,
    parse_answer_json,
    pattern_matches,
)

# JSON that is not what the schema asks still beats text that is not JSON at all.
JSON_BUT_NOT_SCHEMA = 0.25


def _strings(value, option: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"'{option}' must be a text or a list of texts")
    return tuple(value)


def _reference_json(reference: str | None):
    if not isinstance(reference, str):
        return None
    ok, value = parse_answer_json(reference)
    return value if ok else None


def _same(got, want) -> bool:
    if isinstance(want, str):
        return isinstance(got, str) and normalise(got) == normalise(want)
    return got == want and type(got) is type(want)


@dataclass(frozen=True)
class ValidJson:
    """1 when the whole answer is a JSON object or array, else 0."""

    def score(self, text: str, reference: str | None) -> float:
        ok, value = parse_answer_json(text)
        return 1.0 if ok and isinstance(value, (dict, list)) else 0.0

    def describe(self) -> str:
        return "the answer is valid JSON"


@dataclass(frozen=True)
class JsonSchema:
    """1 when the answer is JSON that validates against the schema; JSON_BUT_NOT_SCHEMA
    for other JSON; 0 for text that is not JSON."""

    schema: dict

    def __post_init__(self) -> None:
        if not isinstance(self.schema, dict):
            raise ValueError("'schema' must be a JSON Schema object")
        try:
            jsonschema.validators.validator_for(self.schema).check_schema(self.schema)
        except jsonschema.SchemaError as error:
            raise ValueError(f"'schema' is not a valid JSON Schema: {error.message}") from None
        # A user's schema can hold a pattern too: ours (limits.py) would not bound
        # jsonschema's own re; schemas with "pattern" keys are refused for now.
        if '"pattern' in json.dumps(self.schema):
            raise ValueError(
                "'schema' uses pattern/patternProperties; use a regex reward for patterns"
            )

    def score(self, text: str, reference: str | None) -> float:
        ok, value = parse_answer_json(text)
        if not ok:
            return 0.0
        validator = jsonschema.validators.validator_for(self.schema)(self.schema)
        try:
            return 1.0 if validator.is_valid(value) else JSON_BUT_NOT_SCHEMA
        except RecursionError:
            return JSON_BUT_NOT_SCHEMA

    def describe(self) -> str:
        return "the answer validates against the JSON schema"


@dataclass(frozen=True)
class Keys:
    """The share of these checks that pass on a JSON object answer: each required key
    present, each key with allowed values holding one of them (0 when not an object)."""

    required: tuple[str, ...] = ()
    allowed: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __post_init__(self) -> None:
        if not self.required and not self.allowed:
            raise ValueError("give 'required' keys or 'allowed' values (or both)")

    @classmethod
    def from_options(cls, required=(), allowed=None) -> Keys:
        allowed = allowed or {}
        if not isinstance(allowed, dict):
            raise ValueError("'allowed' must map a key to its allowed values")
        return cls(
            _strings(required, "required"),
            tuple(
                (str(key), _strings(values, f"allowed.{key}")) for key, values in allowed.items()
            ),
        )

    def score(self, text: str, reference: str | None) -> float:
        ok, value = parse_answer_json(text)
        if not ok or not isinstance(value, dict):
            return 0.0
        passed = sum(key in value for key in self.required)
        for key, values in self.allowed:
            got = value.get(key)
            passed += isinstance(got, str) and normalise(got) in {normalise(v) for v in values}
        return passed / (len(self.required) + len(self.allowed))

    def describe(self) -> str:
        parts = []
        if self.required:
            parts.append("keys " + ", ".join(self.required))
        for key, values in self.allowed:
            parts.append(f"{key} one of {', '.join(values)}")
        return "the answer has " + "; ".join(parts)


@dataclass(frozen=True)
class Regex:
    """1 when the pattern matches the stripped answer (the whole of it when `full`)."""

    pattern: str
    full: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.pattern, str) or not self.pattern:
            raise ValueError("'pattern' must be a regular expression")
        object.__setattr__(self, "_compiled", compile_pattern(self.pattern))

    def score(self, text: str, reference: str | None) -> float:
        return 1.0 if pattern_matches(self._compiled, text.strip(), self.full) else 0.0

    def describe(self) -> str:
        return f"the answer {'matches' if self.full else 'contains'} /{self.pattern}/"


@dataclass(frozen=True)
class ReferenceMatch:
    """Agreement with the reference answer. With `field`: 1 when the answer's JSON field
    equals the reference's (case and spacing ignored). Without: a JSON reference scores
    the share of its top-level fields the answer matches; a text reference, 1 when the
    answer equals it."""

    field: str = ""

    def score(self, text: str, reference: str | None) -> float:
        expected = _reference_json(reference)
        if self.field:
            if not isinstance(expected, dict) or self.field not in expected:
                return 0.0
            ok, value = parse_answer_json(text)
            if not ok or not isinstance(value, dict) or self.field not in value:
                return 0.0
            return 1.0 if _same(value[self.field], expected[self.field]) else 0.0
        if isinstance(expected, dict) and expected:
            ok, value = parse_answer_json(text)
            if not ok or not isinstance(value, dict):
                return 0.0
            return sum(k in value and _same(value[k], v) for k, v in expected.items()) / len(
                expected
            )
        if not isinstance(reference, str):
            return 0.0
        return 1.0 if normalise(text) == normalise(reference) else 0.0

    def describe(self) -> str:
        if self.field:
            return f"the answer's {self.field} equals the reference's"
        return "the answer matches the reference"


@dataclass(frozen=True)
class LengthPenalty:
    """0 up to `max_chars` characters, then falling linearly to -1 at twice that."""

    max_chars: int

    def __post_init__(self) -> None:
        if isinstance(self.max_chars, bool) or not isinstance(self.max_chars, int):
            raise ValueError("'max_chars' must be a whole number of characters")
        if self.max_chars < 1:
            raise ValueError("'max_chars' must be at least 1")

    def score(self, text: str, reference: str | None) -> float:
        over = len(text.strip()) - self.max_chars
        return -min(1.0, over / self.max_chars) if over > 0 else 0.0

    def describe(self) -> str:
        return f"a penalty beyond {self.max_chars} characters"


def build_preset(kind: str, options: dict):
    """The preset of `kind` with its options; ValueError names an unknown kind or option."""
    if kind == "valid_json":
        return ValidJson(**options)
    if kind == "json_schema":
        return JsonSchema(**options)
    if kind == "keys":
        return Keys.from_options(**options)
    if kind == "regex":
        return Regex(**options)
    if kind == "reference_match":
        return ReferenceMatch(**options)
    if kind == "length_penalty":
        return LengthPenalty(**options)
    raise ValueError(f"unknown reward kind {kind!r}; use one of: {', '.join(PRESET_KINDS)}")


PRESET_KINDS = (
    "valid_json",
    "json_schema",
    "keys",
    "regex",
    "reference_match",
    "length_penalty",
)
