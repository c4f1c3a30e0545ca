"""Regression testing: the general-capability probes on the base and the fine-tuned model.

Fine-tuning can make a model better at the user's task and worse at everything else.
The probe set shipped in resources/probes/ (arithmetic, instruction following, short
facts, format following) is answered by both models; a drop in the pass rate beyond
a threshold, overall or in one category, is flagged as catastrophic forgetting with
the guide's advice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from importlib import resources

from core.evaluation.eval_set import EvalSet, parse_jsonl
from core.evaluation.generation import Cancelled, GenerationConfig, Progress
from core.evaluation.models import ModelSpec
from core.evaluation.results import EvalResult, ExampleOutput
from core.evaluation.runner import evaluate_model
from core.evaluation.statistics import ALPHA, Rate, mcnemar, paired_outcomes, rate
from core.evaluation.store import load_result, save_eval_set, save_result

PROBES_RESOURCE = "probes/general.jsonl"
PROBE_SET_NAME = "General-capability probes"
DEFAULT_DROP_THRESHOLD = 0.10  # ten percentage points of the pass rate
# Probe answers are short; a long limit only makes the check slower.
PROBE_GENERATION = GenerationConfig(max_new_tokens=64, batch_size=8)
FORGETTING_ADVICE = (
    "The fine-tuned model has lost some general capability (catastrophic forgetting). "
    "Mix a small share of general-purpose instruction data (for example 5-10%) into the "
    "training set, and consider a lower learning rate or fewer epochs (for full fine-tuning, "
    "1e-5 to 5e-5), or LoRA instead of full fine-tuning; then train and evaluate again."
)


def load_probe_set() -> EvalSet:
    """The general-capability probes shipped with FineTune Studio."""
    text = resources.files("resources").joinpath(PROBES_RESOURCE).read_text("utf-8")
    return EvalSet(
        PROBE_SET_NAME, f"resources/{PROBES_RESOURCE}", tuple(parse_jsonl(text, PROBES_RESOURCE))
    )


def probe_passed(output: ExampleOutput) -> bool | None:
    """A probe passes when every one of its checks passes (None: it has no checks)."""
    if not output.score.checks:
        return None
    return all(check.passed for check in output.score.checks)


@dataclass(frozen=True)
class CategoryRegression:
    category: str  # "all" for the whole probe set
    base: Rate
    tuned: Rate
    delta: float  # tuned - base pass rate
    p_value: float  # McNemar on the paired probes
    flagged: bool  # dropped by more than the threshold, and significantly (forgetting)

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA

    @property
    def dropped(self) -> bool:
        """Below the threshold, significant or not (a hint to measure with more probes)."""
        return self.delta < -self.threshold_used

    threshold_used: float = DEFAULT_DROP_THRESHOLD


@dataclass(frozen=True)
class RegressionReport:
    base_label: str
    tuned_label: str
    threshold: float
    categories: tuple[CategoryRegression, ...]  # "all" first
    base_run_id: int | None = None
    tuned_run_id: int | None = None

    @property
    def overall(self) -> CategoryRegression:
        return self.categories[0]

    @property
    def forgetting(self) -> bool:
        return any(c.flagged for c in self.categories)

    @property
    def message(self) -> str:
        """What to tell the user, in words."""
        # The app's rule everywhere: worse only when significant (p < 0.05).
        chance = [c for c in self.categories if c.dropped and not c.flagged]
        chance_text = ""
        if chance:
            chance_text = (
                " Dropped beyond the threshold but within chance on so few probes, so not "
                "called forgetting: "
                + ", ".join(
                    f"{c.category} {c.base.value:.0%} -> {c.tuned.value:.0%} (p={c.p_value:.2f})"
                    for c in chance
                )
                + "; evaluate again or with more probes to tell."
            )
        if not self.forgetting:
            return (
                f"No regression beyond {self.threshold:.0%} on the general-capability probes "
                f"({self.overall.base.value:.0%} -> {self.overall.tuned.value:.0%} passed)."
                + chance_text
            )
        dropped = ", ".join(
            f"{c.category} {c.base.value:.0%} -> {c.tuned.value:.0%} (p={c.p_value:.2g})"
            for c in self.categories
            if c.flagged
        )
        return (
            f"Dropped significantly beyond {self.threshold:.0%}: {dropped}.{chance_text} "
            f"{FORGETTING_ADVICE}"
        )

    def as_dict(self) -> dict:
        return {
            "base": self.base_label,
            "tuned": self.tuned_label,
            "threshold": self.threshold,
            "forgetting": self.forgetting,
            "message": self.message,
            "categories": [
                {
                    "category": c.category,
                    "base": c.base.as_dict(),
                    "tuned": c.tuned.as_dict(),
                    "delta": c.delta,
                    "p_value": c.p_value,
                    "flagged": c.flagged,
                }
                for c in self.categories
            ],
        }


def compare_probes(
    base: EvalResult, tuned: EvalResult, threshold: float = DEFAULT_DROP_THRESHOLD
) -> RegressionReport:
    """Per-category pass rates of both models on the probes, with drops flagged."""
    if base.eval_set.content_hash != tuned.eval_set.content_hash:
        raise ValueError("Both models must answer the same version of the probe set.")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    tuned_by_index = {o.index: o for o in tuned.outputs}
    pairs = [(o, tuned_by_index[o.index]) for o in base.outputs if o.index in tuned_by_index]
    groups = {"all": pairs}
    for category in base.eval_set.categories:
        groups[category] = [
            (b, t) for b, t in pairs if base.eval_set.examples[b.index].category == category
        ]
    categories = []
    for name, members in groups.items():
        base_outcomes = [probe_passed(b) for b, _ in members]
        tuned_outcomes = [probe_passed(t) for _, t in members]
        base_rate, tuned_rate = rate(base_outcomes), rate(tuned_outcomes)
        only_base, only_tuned, _ = paired_outcomes(base_outcomes, tuned_outcomes)
        delta = (tuned_rate.value or 0.0) - (base_rate.value or 0.0)
        p_value = mcnemar(only_base, only_tuned).p_value
        categories.append(
            CategoryRegression(
                name,
                base_rate,
                tuned_rate,
                delta,
                p_value,
                flagged=delta < -threshold and p_value < ALPHA,
                threshold_used=threshold,
            )
        )
    return RegressionReport(base.label, tuned.label, threshold, tuple(categories))


def _matching_run(
    project, eval_set_id: int, spec: ModelSpec, config: GenerationConfig
) -> int | None:
    """A stored probe run of the same model and settings, so the base is not answered twice."""
    rows = project.connection().execute(
        "SELECT id, spec_json, generation_json FROM evaluation_runs WHERE eval_set_id = ? "
        "AND status = 'complete' ORDER BY id DESC",
        (eval_set_id,),
    )
    for row in rows:
        if json.loads(row[1]) == spec.as_dict() and json.loads(row[2]) == config.as_dict():
            return row[0]
    return None


def run_regression(
    project,
    base: ModelSpec,
    tuned: ModelSpec,
    config: GenerationConfig = PROBE_GENERATION,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    threshold: float = DEFAULT_DROP_THRESHOLD,
) -> RegressionReport:
    """Run the probes on both models (reusing stored answers), store them, compare them."""
    probes = load_probe_set()
    eval_set_id = save_eval_set(project, probes, purpose="probes")
    run_ids = []
    for number, spec in enumerate((base, tuned)):
        existing = _matching_run(project, eval_set_id, spec, config)
        if existing is None:
            result = evaluate_model(
                probes,
                spec,
                config,
                progress,
                cancelled,
                with_perplexity=False,
                progress_range=(number / 2, (number + 1) / 2),
            )
            existing = save_result(project, eval_set_id, result)
        run_ids.append(existing)
    report = compare_probes(
        load_result(project, run_ids[0]), load_result(project, run_ids[1]), threshold
    )
    return replace(report, base_run_id=run_ids[0], tuned_run_id=run_ids[1])
