"""Error analysis: examples side by side, regressions and failures, and drafts of new training data.

The guide's loop is: evaluate, find the failure modes, add targeted examples, train
again. `compare_examples` lines up two models' answers with their verdicts;
`word_diff` marks what differs; `draft_training_example` turns a failing example into
a training conversation for a new dataset version, with the reference answer or a
placeholder the expert replaces.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from core.evaluation.eval_set import EvalExample
from core.evaluation.results import EvalResult, ExampleOutput

REGRESSION, IMPROVEMENT, BOTH_FAIL, BOTH_PASS, NOT_CHECKED = (
    "regression",
    "improvement",
    "both fail",
    "both pass",
    "not checked",
)
FILTERS = ("all", "regressions", "failures", "improvements")
ANSWER_PLACEHOLDER = "<write the ideal answer here>"


def example_passed(output: ExampleOutput) -> bool | None:
    """Passed every check it has (format and answer); None when nothing was checked."""
    verdicts = [v for v in (output.score.format_ok, output.score.correct) if v is not None]
    return all(verdicts) if verdicts else None


@dataclass(frozen=True)
class ExampleComparison:
    example: EvalExample
    output_a: ExampleOutput
    output_b: ExampleOutput
    passed_a: bool | None
    passed_b: bool | None
    status: str  # regression, improvement, both fail, both pass, not checked

    @property
    def index(self) -> int:
        return self.example.index

    @property
    def failed_checks_a(self) -> list[str]:
        return [
            f"{c.name}: {c.detail}" if c.detail else c.name for c in self.output_a.score.failures
        ]

    @property
    def failed_checks_b(self) -> list[str]:
        return [
            f"{c.name}: {c.detail}" if c.detail else c.name for c in self.output_b.score.failures
        ]


def _status(passed_a: bool | None, passed_b: bool | None) -> str:
    if passed_a is None or passed_b is None:
        return NOT_CHECKED
    if passed_a and not passed_b:
        return REGRESSION
    if passed_b and not passed_a:
        return IMPROVEMENT
    return BOTH_PASS if passed_a else BOTH_FAIL


def compare_examples(a: EvalResult, b: EvalResult, show: str = "all") -> list[ExampleComparison]:
    """Both models' answers per example (A usually the baseline), filtered by `show`.

    show: "all", "regressions" (A passed, B failed), "failures" (B failed), or
    "improvements" (A failed, B passed).
    """
    if show not in FILTERS:
        raise ValueError(f"show must be one of {', '.join(FILTERS)}")
    if a.eval_set.content_hash != b.eval_set.content_hash:
        raise ValueError("Both results must be on the same eval-set version.")
    b_outputs = {o.index: o for o in b.outputs}
    rows = []
    for output_a in a.outputs:
        output_b = b_outputs.get(output_a.index)
        if output_b is None:
            continue
        passed_a, passed_b = example_passed(output_a), example_passed(output_b)
        row = ExampleComparison(
            a.example(output_a.index),
            output_a,
            output_b,
            passed_a,
            passed_b,
            _status(passed_a, passed_b),
        )
        keep = (
            show == "all"
            or (show == "regressions" and row.status == REGRESSION)
            or (show == "failures" and passed_b is False)
            or (show == "improvements" and row.status == IMPROVEMENT)
        )
        if keep:
            rows.append(row)
    return rows


def failing_examples(result: EvalResult) -> list[tuple[EvalExample, ExampleOutput]]:
    """Every example this model failed, for error analysis of a single model."""
    return [(result.example(o.index), o) for o in result.outputs if example_passed(o) is False]


_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """(op, text) pieces that turn `old` into `new`; op is "equal", "delete" or "insert"."""
    old_tokens, new_tokens = _TOKEN.findall(old), _TOKEN.findall(new)
    pieces: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=old_tokens, b=new_tokens, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            pieces.append(("equal", "".join(old_tokens[i1:i2])))
            continue
        if op in ("delete", "replace"):
            pieces.append(("delete", "".join(old_tokens[i1:i2])))
        if op in ("insert", "replace"):
            pieces.append(("insert", "".join(new_tokens[j1:j2])))
    return [p for p in pieces if p[1]]


@dataclass(frozen=True)
class DraftExample:
    """A training conversation drafted from a failure, to be reviewed before it is added."""

    messages: tuple[dict, ...]
    needs_expert_answer: bool  # the assistant turn is a placeholder to replace
    note: str  # where it came from and why, for the dataset's change log

    def as_record(self) -> dict:
        """The JSONL record, in the same OpenAI messages format as the training data."""
        return {"messages": [dict(m) for m in self.messages]}


def draft_training_example(
    example: EvalExample,
    failed_answer: str | None = None,
    system_prompt: str | None = None,
    eval_set_name: str | None = None,
) -> DraftExample:
    """A targeted training example from a failing eval example.

    The assistant turn is the reference answer when the eval set has one, otherwise a
    placeholder the expert must replace (the guide: training answers are written by
    experts, not taken from the model). The eval example itself stays in the eval set;
    the page should suggest rewording the prompt so the eval set is not trained on.
    """
    messages = [dict(m) for m in example.prompt]
    if system_prompt and not any(m["role"] == "system" for m in messages):
        messages.insert(0, {"role": "system", "content": system_prompt})
    answer = example.reference if example.reference else ANSWER_PLACEHOLDER
    messages.append({"role": "assistant", "content": answer})
    source = f"eval set '{eval_set_name}' " if eval_set_name else "eval "
    note = f"Drafted from {source}example {example.index + 1}"
    if failed_answer is not None:
        shortened = failed_answer if len(failed_answer) <= 200 else failed_answer[:200] + "..."
        note += f", which the model failed with: {shortened!r}"
    return DraftExample(tuple(messages), example.reference is None, note)
