"""A reward spec: the weighted list of presets a GRPO run scores answers with.

Stored in the recipe's `rewards` field as YAML flow text, so a run's config.yaml says
exactly how it was rewarded:

    [{kind: valid_json}, {kind: json_schema, schema: {...}},
     {kind: reference_match, field: category, weight: 2}, {kind: length_penalty, max_chars: 400}]

Each item: `kind`, optional `weight` (default 1) and `name` (default the kind, plus the
field for reference_match), and the kind's options.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import yaml

from core.rewards.limits import answer_text
from core.rewards.presets import PRESET_KINDS, build_preset
from core.rewards.user_code import UserReward, trusted_reward_file

KINDS = (*PRESET_KINDS, "python")
MAX_TERMS = 16


class RewardSpecError(ValueError):
    """A reward spec that cannot be used; the message names the item and what to change."""


@dataclass(frozen=True)
class RewardTerm:
    name: str
    kind: str
    weight: float
    options: dict = field(compare=False)
    preset: object = field(compare=False, repr=False)

    def score(self, completion, reference: str | None) -> float:
        """This reward of one completion (a string or TRL's list of messages)."""
        return self.preset.score(answer_text(completion), reference)

    def as_dict(self) -> dict:
        out = {"kind": self.kind, **self.options}
        if self.weight != 1.0:
            out["weight"] = self.weight
        if self.name != default_name(self.kind, self.options):
            out["name"] = self.name
        return out


@dataclass(frozen=True)
class RewardSpec:
    terms: tuple[RewardTerm, ...]

    @property
    def weights(self) -> list[float]:
        return [term.weight for term in self.terms]

    def total(self, completion, reference: str | None) -> float:
        return sum(t.weight * t.score(completion, reference) for t in self.terms)

    def to_text(self) -> str:
        """The spec as the recipe stores it (YAML flow, one line)."""
        items = [term.as_dict() for term in self.terms]
        return yaml.safe_dump(items, default_flow_style=True, sort_keys=False, width=10**9).strip()

    def describe(self) -> list[str]:
        return [f"{t.name} (weight {t.weight:g}): {t.preset.describe()}" for t in self.terms]


def default_name(kind: str, options: dict) -> str:
    if kind == "reference_match" and options.get("field"):
        return f"{options['field']}_match"
    return kind


def _term(item, index: int, load_code: bool = True) -> RewardTerm:
    where = f"reward {index + 1}"
    if not isinstance(item, dict):
        raise RewardSpecError(f"{where}: expected {{kind: ..., ...}}, got {item!r:.60}")
    options = dict(item)
    kind = options.pop("kind", None)
    if kind not in KINDS:
        raise RewardSpecError(f"{where}: kind {kind!r} is not one of: {', '.join(KINDS)}.")
    weight = options.pop("weight", 1.0)
    if (
        isinstance(weight, bool)
        or not isinstance(weight, (int, float))
        or not math.isfinite(weight)
    ):
        raise RewardSpecError(f"{where} ({kind}): weight must be a number, got {weight!r}.")
    name = options.pop("name", None) or default_name(kind, options)
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise RewardSpecError(f"{where} ({kind}): name must be letters, digits and _.")
    try:
        if kind == "python":
            preset = UserReward(**options) if load_code else _checked_user_file(**options)
        else:
            preset = build_preset(kind, options)
    except TypeError as error:
        raise RewardSpecError(f"{where} ({kind}): {_option_problem(error)}") from None
    except ValueError as error:
        raise RewardSpecError(f"{where} ({kind}): {error}") from None
    return RewardTerm(name, kind, float(weight), options, preset)


def _checked_user_file(file: str, function: str = "reward") -> None:
    """A user reward's options checked without running its file (a form validating on
    every edit must not import the user's code each time)."""
    trusted_reward_file(file)


def _option_problem(error: TypeError) -> str:
    text = str(error)
    if "unexpected keyword argument" in text:
        return "unknown option " + text.split("argument", 1)[1].strip() + "."
    if "missing" in text:
        return "missing option " + text.split(":", 1)[-1].strip() + "."
    return text


def parse_spec(text: str, load_code: bool = True) -> RewardSpec:
    """The spec in the recipe's `rewards` text; RewardSpecError says what is wrong.
    `load_code=False` checks a python reward's file and trust without importing it (the
    terms are then for checking only: a python term has no preset)."""
    if not text or not text.strip():
        raise RewardSpecError(
            "no rewards: a GRPO run needs at least one, e.g. [{kind: valid_json}] "
            "(the Train page's reward editor writes them)."
        )
    try:
        items = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RewardSpecError(f"the rewards are not readable YAML: {error}") from None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not items:
        raise RewardSpecError("the rewards must be a list of {kind: ...} items.")
    if len(items) > MAX_TERMS:
        raise RewardSpecError(f"{len(items)} rewards; at most {MAX_TERMS} are allowed.")
    terms = tuple(_term(item, i, load_code) for i, item in enumerate(items))
    names = [t.name for t in terms]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise RewardSpecError(
            f"two rewards are named {repeated[0]}; give one of them a name: option."
        )
    if all(t.weight == 0 for t in terms):
        raise RewardSpecError("every reward has weight 0; nothing would be learned.")
    return RewardSpec(terms)


def spec_from_items(items: list[dict]) -> RewardSpec:
    """A spec from items built in code (the reward editor), validated like the text."""
    return parse_spec(yaml.safe_dump(items, default_flow_style=True, width=10**9))


def trl_reward_functions(spec: RewardSpec) -> list:
    """One function per reward, in TRL's reward-function shape (named after the reward,
    so TRL logs rewards/<name>/mean and std); the reference is the dataset's `reference`
    column, which TRL passes as a keyword."""
    functions = []
    for term in spec.terms:

        def reward(completions, reference=None, _term=term, **_):
            references = reference if reference is not None else [None] * len(completions)
            return [_term.score(c, r) for c, r in zip(completions, references)]

        reward.__name__ = term.name
        functions.append(reward)
    return functions
