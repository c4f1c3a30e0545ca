"""Evaluations of several models together: the plan, and which stored results ran together.

The store keeps each model's result on its own. This also remembers which results were
evaluated together, with their regression-probe runs, in the project's meta table, so
reopening the project shows the last comparison and earlier ones can be picked again.
`run_plan` is the work the Evaluate page runs in the background: evaluate, store, probe;
`finetune-studio eval` builds the same EvaluationPlan.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace

from core.evaluation.ab_pairs import list_pair_sets
from core.evaluation.eval_set import EvalSet
from core.evaluation.generation import (
    Cancelled,
    EvaluationCancelled,
    GenerationConfig,
    Progress,
)
from core.evaluation.models import ModelSpec, baseline_spec
from core.evaluation.regression import PROBE_GENERATION, compare_probes, run_regression
from core.evaluation.runner import evaluate_model
from core.evaluation.store import load_result, save_eval_set, save_result
from core.figures import count_text
from core.project.store import utc_now

META_KEY = "evaluation.comparisons"
PROMPT_META_KEY = "evaluation.baseline_prompt"
MAX_REMEMBERED = 30
_DATASET_SOURCE = re.compile(r"^dataset version (\d+)\b")


@dataclass(frozen=True)
class Comparison:
    """Results evaluated together on one eval set; run_ids[0] is the baseline."""

    run_ids: tuple[int, ...]
    eval_set_id: int
    created_at: str
    title: str
    # (base probe run, candidate probe run) per candidate, when probes were run.
    probe_runs: tuple[tuple[int, int], ...] = ()
    base_version_id: int | None = None  # the dataset version new examples should extend

    def as_dict(self) -> dict:
        return {
            "run_ids": list(self.run_ids),
            "eval_set_id": self.eval_set_id,
            "created_at": self.created_at,
            "title": self.title,
            "probe_runs": [list(pair) for pair in self.probe_runs],
            "base_version_id": self.base_version_id,
        }

    @classmethod
    def from_dict(cls, raw: dict) -> Comparison:
        return cls(
            run_ids=tuple(int(i) for i in raw["run_ids"]),
            eval_set_id=int(raw["eval_set_id"]),
            created_at=str(raw.get("created_at", "")),
            title=str(raw.get("title", "")),
            probe_runs=tuple((int(a), int(b)) for a, b in raw.get("probe_runs", [])),
            base_version_id=raw.get("base_version_id"),
        )


def _stored_run_ids(project) -> set[int]:
    rows = project.connection().execute("SELECT id FROM evaluation_runs")
    return {row[0] for row in rows}


def recent_comparisons(project) -> list[Comparison]:
    """Remembered comparisons, newest first; those whose results were deleted are left out."""
    try:
        raw = json.loads(project.get_meta(META_KEY, "[]") or "[]")
    except json.JSONDecodeError:
        return []  # a damaged list only loses the history, never the stored results
    existing = _stored_run_ids(project)
    found = []
    for item in reversed(raw):
        try:
            comparison = Comparison.from_dict(item)
        except (KeyError, TypeError, ValueError):
            continue
        if comparison.run_ids and set(comparison.run_ids) <= existing:
            probes = tuple(p for p in comparison.probe_runs if set(p) <= existing)
            found.append(
                Comparison(
                    comparison.run_ids,
                    comparison.eval_set_id,
                    comparison.created_at,
                    comparison.title,
                    probes,
                    comparison.base_version_id,
                )
            )
    return found


def remember_comparison(project, comparison: Comparison) -> None:
    try:
        raw = json.loads(project.get_meta(META_KEY, "[]") or "[]")
    except json.JSONDecodeError:
        raw = []
    raw = [c for c in raw if c.get("run_ids") != list(comparison.run_ids)]
    raw.append(comparison.as_dict())
    project.set_meta(META_KEY, json.dumps(raw[-MAX_REMEMBERED:]))


def dataset_version_of(eval_set: EvalSet) -> int | None:
    """The dataset version an eval set was taken from (its validation split), if any."""
    match = _DATASET_SOURCE.match(eval_set.source)
    return int(match.group(1)) if match else None


def unique_labels(specs: list[ModelSpec]) -> list[ModelSpec]:
    """The same specs with distinct labels, since tables and reports key columns by label."""
    seen: dict[str, int] = {}
    out = []
    for spec in specs:
        count = seen.get(spec.label, 0) + 1
        seen[spec.label] = count
        out.append(spec if count == 1 else replace(spec, label=f"{spec.label} ({count})"))
    return out


@dataclass(frozen=True)
class EvaluationPlan:
    """What the user asked for: the models (baseline first), the eval set, the settings."""

    eval_set: EvalSet
    specs: tuple[ModelSpec, ...]
    config: GenerationConfig = field(default_factory=GenerationConfig)
    with_probes: bool = True
    base_version_id: int | None = None

    def __post_init__(self) -> None:
        if not self.specs:
            raise ValueError("Choose at least the base model to evaluate.")

    def labelled_specs(self) -> list[ModelSpec]:
        """The models baseline first, with distinct labels."""
        return unique_labels(list(self.specs))


@dataclass(frozen=True)
class EvaluationOutcome:
    comparison: Comparison | None  # None when nothing finished
    cancelled: bool
    message: str


def _scaled(progress: Progress, start: float, end: float) -> Progress:
    return lambda fraction, message: progress(start + (end - start) * fraction, message)


def run_plan(
    project,
    plan: EvaluationPlan,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> EvaluationOutcome:
    """Evaluate every model, storing each as it finishes, then run the probes per candidate.

    Cancelling keeps the models that finished (and remembers them as a comparison).
    """
    report = progress or (lambda fraction, message: None)
    specs = plan.labelled_specs()
    candidates = specs[1:]
    probing = plan.with_probes and bool(candidates)
    steps = len(specs) + (len(candidates) if probing else 0)
    eval_set_id = save_eval_set(project, plan.eval_set)
    probe_config = GenerationConfig(
        max_new_tokens=min(PROBE_GENERATION.max_new_tokens, plan.config.max_new_tokens),
        batch_size=plan.config.batch_size,
        seed=plan.config.seed,
    )
    run_ids: list[int] = []
    probe_runs: list[tuple[int, int]] = []
    was_cancelled = False
    try:
        for number, spec in enumerate(specs):
            result = evaluate_model(
                plan.eval_set,
                spec,
                plan.config,
                report,
                cancelled,
                progress_range=(number / steps, (number + 1) / steps),
            )
            run_ids.append(save_result(project, eval_set_id, result))
        if probing:
            # General capability is compared without the task's system prompt on either side.
            plain_base = baseline_spec(specs[0].base_model)
            for number, candidate in enumerate(candidates, start=len(specs)):
                regression = run_regression(
                    project,
                    plain_base,
                    candidate,
                    probe_config,
                    _scaled(report, number / steps, (number + 1) / steps),
                    cancelled,
                )
                probe_runs.append((regression.base_run_id, regression.tuned_run_id))
    except EvaluationCancelled:
        was_cancelled = True
    if not run_ids:
        return EvaluationOutcome(None, was_cancelled, "Cancelled before any model finished.")
    labels = [s.label for s in specs[: len(run_ids)]]
    comparison = Comparison(
        run_ids=tuple(run_ids),
        eval_set_id=eval_set_id,
        created_at=utc_now(),
        title=" vs ".join(labels) + f" on {plan.eval_set.name}",
        probe_runs=tuple(probe_runs),
        base_version_id=plan.base_version_id,
    )
    remember_comparison(project, comparison)
    if was_cancelled:
        message = (
            f"Cancelled. Kept {count_text(len(run_ids), 'finished result')}: {', '.join(labels)}."
        )
    else:
        message = (
            f"Evaluated {count_text(len(run_ids), 'model')} on "
            f"{count_text(len(plan.eval_set.examples), 'example')}."
        )
    report(1.0, message)
    return EvaluationOutcome(comparison, was_cancelled, message)


def load_comparison(project, comparison: Comparison) -> tuple[list, list]:
    """(results baseline first, regression reports) of a remembered comparison."""
    results = [load_result(project, run_id) for run_id in comparison.run_ids]
    regressions = []
    for base_run, tuned_run in comparison.probe_runs:
        report = compare_probes(load_result(project, base_run), load_result(project, tuned_run))
        regressions.append(report)
    return results, regressions


def pair_sets_of(project, comparison: Comparison) -> list[int]:
    """The A/B pair sets built on two results of this comparison."""
    members = set(comparison.run_ids)
    return [
        p.id for p in list_pair_sets(project) if p.run_a_id in members and p.run_b_id in members
    ]
