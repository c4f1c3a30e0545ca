"""Scoring one answer: its format checks, its correctness against the reference, refusals.

Format compliance: every format check of the example passes. When an example has no
format check but its reference answer is a JSON object, the expected format is taken
from the reference (valid JSON with the same keys), since that is what the user's
data shows the model should produce.

Accuracy: the answer checks (exact, contains) when the example has any; otherwise the
reference, when it is verifiable by matching: JSON, compared field by field (free-text
fields of more than MAX_WORDS_IN_JSON_FIELD words need only be present), or a short
answer of at most MAX_WORDS_TO_MATCH words, compared ignoring case, spacing and a final
period. Long free-text references are left to human raters and the LLM judge.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import jsonschema

from core.evaluation.eval_set import Checks, EvalExample

MAX_WORDS_TO_MATCH = 20
MAX_WORDS_IN_JSON_FIELD = 3

# Phrases with which assistants decline a task; matched at the start of the answer or
# of a sentence, so "I can't wait" in the middle of a story is not a refusal.
REFUSAL_PATTERNS = (
    r"i(?:'m| am) (?:sorry|afraid),? (?:but )?i (?:can(?:'|no)t|cannot|won'?t|am (?:not able|unable))",
    r"i(?: can(?:'|no)t| cannot| won'?t| am (?:not able|unable) to| must decline to|'m (?:not able|unable) to)"
    r" (?:help|assist|answer|provide|comply|do that|fulfil|fulfill|complete|create|generate|write)",
    r"as an ai(?: language model)?,? i (?:can(?:'|no)t|cannot|do not|don'?t|am not able)",
    r"i(?:'m| am) not (?:allowed|permitted) to",
    r"sorry,? (?:but )?i (?:can(?:'|no)t|cannot)",
)
# Models write typographic apostrophes as often as straight ones.
_REFUSAL = re.compile(
    r"(?:^|[.!?]\s+)(?:" + "|".join(REFUSAL_PATTERNS).replace("'", "['\u2019]") + r")",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class CheckResult:
    name: str  # e.g. "valid_json", "contains 'Paris'"
    kind: str  # "format" or "answer"
    passed: bool
    detail: str = ""  # why it failed, in words
    inferred: bool = False  # taken from the reference rather than written by the user

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "passed": self.passed,
            "detail": self.detail,
            "inferred": self.inferred,
        }


@dataclass(frozen=True)
class AnswerScore:
    format_ok: bool | None  # None: the example has no format to check
    correct: bool | None  # None: nothing verifiable to compare against
    refusal: bool
    checks: tuple[CheckResult, ...]

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]


def normalise(text: str) -> str:
    """Case, runs of spaces and a final period do not change the answer."""
    text = " ".join(text.split()).casefold()
    return text.rstrip(".!").strip()


def parse_json(text: str) -> tuple[bool, object, str]:
    """(parsed?, value, error in words); the whole stripped answer must be JSON."""
    try:
        return True, json.loads(text.strip()), ""
    except (json.JSONDecodeError, ValueError) as error:
        return False, None, f"not valid JSON ({error})"


def is_refusal(answer: str) -> bool:
    return bool(_REFUSAL.search(answer.strip()))


def reference_json(reference: str | None) -> object | None:
    """The reference as JSON when it is a JSON object or array, else None."""
    if reference is None:
        return None
    ok, value, _ = parse_json(reference)
    return value if ok and isinstance(value, (dict, list)) else None


def inferred_format_checks(example: EvalExample) -> Checks | None:
    """The format a JSON reference implies, for examples that state none themselves."""
    if example.checks.has_format_checks:
        return None
    value = reference_json(example.reference)
    if value is None:
        return None
    if isinstance(value, dict) and value:
        schema = {"type": "object", "required": sorted(value)}
        return Checks(valid_json=True, json_schema=schema)
    return Checks(valid_json=True)


def has_format_checks(example: EvalExample) -> bool:
    """Whether the example's answers are format-checked: checks it states, or the JSON
    format its reference answer implies (what score_answer checks)."""
    return example.checks.has_format_checks or inferred_format_checks(example) is not None


def _format_results(answer: str, checks: Checks, inferred: bool) -> list[CheckResult]:
    results = []

    def add(name: str, passed: bool, detail: str = "") -> None:
        results.append(CheckResult(name, "format", passed, "" if passed else detail, inferred))

    stripped = answer.strip()
    parsed_ok, parsed, parse_error = parse_json(stripped)
    if checks.valid_json:
        add("valid JSON", parsed_ok, parse_error)
    if checks.json_schema is not None:
        if not parsed_ok:
            add("JSON schema", False, parse_error)
        else:
            validator = jsonschema.validators.validator_for(checks.json_schema)(checks.json_schema)
            errors = sorted(validator.iter_errors(parsed), key=lambda e: list(e.path))
            detail = "; ".join(e.message for e in errors[:3])
            add("JSON schema", not errors, detail)
    if checks.regex is not None:
        add(
            f"matches /{checks.regex}/",
            re.fullmatch(checks.regex, stripped) is not None,
            "no match",
        )
    if checks.max_length is not None:
        add(
            f"at most {checks.max_length} characters",
            len(stripped) <= checks.max_length,
            f"{len(stripped)} characters",
        )
    lowered = stripped.casefold()
    for text in checks.must_not_contain:
        add(f"does not contain {text!r}", text.casefold() not in lowered, f"contains {text!r}")
    return results


def _answer_results(answer: str, checks: Checks) -> list[CheckResult]:
    results = []
    if checks.exact is not None:
        passed = normalise(answer) == normalise(checks.exact)
        results.append(
            CheckResult(f"equals {checks.exact!r}", "answer", passed, "" if passed else "differs")
        )
    lowered = answer.casefold()
    for text in checks.contains:
        passed = text.casefold() in lowered
        results.append(
            CheckResult(f"contains {text!r}", "answer", passed, "" if passed else "missing")
        )
    return results


def json_differences(answer: object, expected: object, path: str = "") -> list[str]:
    """Where a JSON answer departs from the reference, field by field.

    Strings of more than MAX_WORDS_IN_JSON_FIELD words (a summary, an explanation) are
    free text: they only have to be present, since wording cannot be checked by matching.
    Short strings are compared ignoring case and surrounding spaces.
    """
    where = path or "the answer"
    if isinstance(expected, dict):
        if not isinstance(answer, dict):
            return [f"{where}: expected an object"]
        problems = []
        for key, value in expected.items():
            if key not in answer:
                problems.append(f"{path + '.' if path else ''}{key}: missing")
            else:
                problems += json_differences(
                    answer[key], value, f"{path + '.' if path else ''}{key}"
                )
        return problems
    if isinstance(expected, list):
        if not isinstance(answer, list) or len(answer) != len(expected):
            return [f"{where}: expected a list of {len(expected)}"]
        problems = []
        for i, (got, want) in enumerate(zip(answer, expected)):
            problems += json_differences(got, want, f"{path}[{i}]")
        return problems
    if isinstance(expected, str):
        if len(expected.split()) > MAX_WORDS_IN_JSON_FIELD:
            return [] if isinstance(answer, str) and answer.strip() else [f"{where}: empty"]
        if isinstance(answer, str) and normalise(answer) == normalise(expected):
            return []
        return [f"{where}: expected {expected!r}, got {answer!r}"]
    return [] if answer == expected else [f"{where}: expected {expected!r}, got {answer!r}"]


def reference_match(answer: str, reference: str | None) -> CheckResult | None:
    """Compare with the reference when it is verifiable by matching (see the module doc)."""
    if reference is None:
        return None
    expected = reference_json(reference)
    if expected is not None:
        ok, value, error = parse_json(answer)
        problems = json_differences(value, expected) if ok else [error]
        return CheckResult(
            "matches the reference (JSON fields)", "answer", not problems, "; ".join(problems[:3])
        )
    if len(reference.split()) > MAX_WORDS_TO_MATCH:
        return None
    passed = normalise(answer) == normalise(reference)
    return CheckResult("matches the reference", "answer", passed, "" if passed else "differs")


def score_answer(example: EvalExample, answer: str) -> AnswerScore:
    """Format compliance, correctness and refusal for one answer to one example."""
    inferred = inferred_format_checks(example)
    format_checks = _format_results(answer, inferred or example.checks, inferred is not None)
    answer_checks = _answer_results(answer, example.checks)
    if not answer_checks:
        match = reference_match(answer, example.reference)
        answer_checks = [match] if match is not None else []
    format_ok = all(c.passed for c in format_checks) if format_checks else None
    correct = all(c.passed for c in answer_checks) if answer_checks else None
    return AnswerScore(format_ok, correct, is_refusal(answer), tuple(format_checks + answer_checks))
