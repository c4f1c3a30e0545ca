"""The user's answers to the wizard: a validated dataclass that saves as sorted, versioned JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

from core.decide.guide import DEFAULT_EXPERT_RATE_USD
from core.decide.questions import (
    BASE_MODEL,
    EXPERT_EXAMPLES,
    KEEP_BROAD_CAPABILITIES,
    PROBLEMS,
    PROMPT_ENGINEERING,
)

ANSWERS_VERSION = 1

# Both describe the same problem at different difficulty; asking for both is a contradiction.
EXCLUSIVE_PROBLEMS = ("format_simple", "format_complex")


class AnswersError(ValueError):
    """An answer is missing or not one of the allowed values; the message names the field."""


@dataclass(frozen=True)
class Answers:
    problems: tuple[str, ...] = field(metadata={"help": PROBLEMS.prompt})
    prompt_engineering: str = field(metadata={"help": PROMPT_ENGINEERING.prompt})
    base_model: str = field(metadata={"help": BASE_MODEL.prompt})
    expert_examples: str = field(metadata={"help": EXPERT_EXAMPLES.prompt})
    keep_broad_capabilities: bool = field(metadata={"help": KEEP_BROAD_CAPABILITIES.prompt})
    expert_hourly_rate_usd: float = field(
        default=DEFAULT_EXPERT_RATE_USD,
        metadata={
            "help": "What an hour of your experts' time costs, in US dollars; used for the "
            "data and evaluation part of the project cost."
        },
    )

    def __post_init__(self) -> None:
        problems = self.problems
        if isinstance(problems, str) or not isinstance(problems, (list, tuple, set, frozenset)):
            raise AnswersError(f"problems: expected a list of problems, got {problems!r}")
        unknown = [p for p in problems if p not in PROBLEMS.values]
        if unknown:
            raise AnswersError(
                f"problems: unknown {unknown}; choose from {', '.join(PROBLEMS.values)}"
            )
        if not problems:
            raise AnswersError("problems: tick at least one thing that is wrong today")
        if all(p in problems for p in EXCLUSIVE_PROBLEMS):
            raise AnswersError(
                "problems: the format is either simple or too complex for a prompt; tick one"
            )
        object.__setattr__(self, "problems", tuple(sorted(set(problems))))
        for question in (PROMPT_ENGINEERING, BASE_MODEL, EXPERT_EXAMPLES):
            value = getattr(self, question.key)
            if value not in question.values:
                raise AnswersError(
                    f"{question.key}: {value!r} is not an answer; choose from "
                    f"{', '.join(map(str, question.values))}"
                )
        if not isinstance(self.keep_broad_capabilities, bool):
            raise AnswersError(
                f"keep_broad_capabilities: expected true or false, got "
                f"{self.keep_broad_capabilities!r}"
            )
        rate = self.expert_hourly_rate_usd
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 10_000:
            raise AnswersError(
                f"expert_hourly_rate_usd: expected dollars per hour between 0 and 10,000, "
                f"got {rate!r}"
            )
        object.__setattr__(self, "expert_hourly_rate_usd", float(rate))

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["problems"] = list(self.problems)
        data["version"] = ANSWERS_VERSION
        return dict(sorted(data.items()))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answers:
        if not isinstance(data, dict):
            raise AnswersError(f"expected an object of answers, got {type(data).__name__}")
        version = data.get("version", ANSWERS_VERSION)
        if version != ANSWERS_VERSION:
            raise AnswersError(
                f"version: answers were saved in format v{version}, this FineTune Studio "
                f"reads v{ANSWERS_VERSION}; update FineTune Studio"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"version"})
        if unknown:
            raise AnswersError(f"unknown fields {unknown}; known: {', '.join(sorted(known))}")
        missing = [
            f.name for f in fields(cls) if f.name not in data and f.name != "expert_hourly_rate_usd"
        ]
        if missing:
            raise AnswersError(f"{missing[0]}: missing; answer every question")
        values = {name: value for name, value in data.items() if name in known}
        if isinstance(values.get("problems"), list):
            values["problems"] = tuple(values["problems"])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> Answers:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise AnswersError(f"not valid JSON ({error})") from None
        return cls.from_dict(data)
