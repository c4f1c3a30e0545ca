"""The pick: full fine-tuning, LoRA or QLoRA for this GPU, with the reason in one sentence.

It follows the seed guide: QLoRA is the usual starting point; LoRA when it fits
comfortably and speed matters; full fine-tuning only when it fits and the task (new
reasoning patterns) and the data (thousands of expert examples) justify its cost and its
risk of catastrophic forgetting. When nothing fits, the fit engine (core.estimate.fit)
re-estimates each of the guide's remedies and the ones that make the run fit are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.estimate.architecture import ModelArchitecture
from core.estimate.estimator import Estimate, compare_methods
from core.estimate.fit import Suggestion, suggest_fits
from core.estimate.gpus import GpuSpec
from core.estimate.run import EstimateRun
from core.estimate.settings import PROJECT_STACK, StackAssumptions
from core.methods import COMPARED_METHODS, METHOD_NAMES, METHOD_TITLES

TASK_KINDS = ("format", "domain", "reasoning")
# Full fine-tuning is worth its cost only for new reasoning patterns with enough data:
# the seed puts those at 2,000-10,000 examples.
FULL_FINE_TUNING_MIN_EXAMPLES = 2000
# "Fits comfortably": room left for longer batches than the average and for other processes.
COMFORT_FRACTION = 0.15
COMFORT_MIN_GIB = 2.0


@dataclass(frozen=True)
class Goals:
    """What the Decide wizard learned about the task (all optional)."""

    task_kind: str | None = field(
        default=None,
        metadata={"help": "format (style or output format), domain (adaptation) or reasoning"},
    )
    examples: int | None = field(
        default=None, metadata={"help": "Expert-written examples available or planned."}
    )
    keep_broad_capabilities: bool = field(
        default=False,
        metadata={"help": "The model must keep its general skills (argues against full FT)."},
    )
    prefer_speed: bool = field(
        default=True,
        metadata={"help": "Prefer LoRA over QLoRA when LoRA fits comfortably (it is faster)."},
    )

    def __post_init__(self) -> None:
        if self.task_kind is not None and self.task_kind not in TASK_KINDS:
            raise ValueError(f"task_kind must be one of {', '.join(TASK_KINDS)}")
        if self.examples is not None and self.examples < 0:
            raise ValueError("examples must be 0 or more")


@dataclass(frozen=True)
class Recommendation:
    method: str
    reason: str
    estimates: dict[str, Estimate]
    fixes: tuple[Suggestion, ...] = ()

    @property
    def chosen(self) -> Estimate:
        return self.estimates[self.method]

    @property
    def fits(self) -> bool:
        return self.chosen.fits

    def fitting_fixes(self) -> list[Suggestion]:
        return [fix for fix in self.fixes if fix.fits]


def comfortable(result: Estimate) -> bool:
    capacity = result.memory.capacity_gib
    return (
        result.fits
        and not result.memory.pages_to_cpu
        and result.headroom_gib >= max(COMFORT_MIN_GIB, COMFORT_FRACTION * capacity)
    )


def _full_is_justified(goals: Goals, examples: int) -> bool:
    return (
        goals.task_kind == "reasoning"
        and examples >= FULL_FINE_TUNING_MIN_EXAMPLES
        and not goals.keep_broad_capabilities
    )


def _pick(estimates: dict[str, Estimate], goals: Goals, settings: EstimateRun) -> tuple[str, str]:
    full, lora, qlora = estimates["full"], estimates["lora"], estimates["qlora"]
    capacity = qlora.memory.capacity_gib
    examples = goals.examples if goals.examples is not None else settings.examples
    if comfortable(full) and _full_is_justified(goals, examples):
        return "full", (
            f"Full fine-tuning: it fits with {full.headroom_gib:.1f} GiB to spare, and "
            f"{examples:,} examples of new reasoning patterns justify training every weight; "
            "check general skills for catastrophic forgetting."
        )
    if comfortable(lora) and goals.prefer_speed:
        speedup = qlora.hours / lora.hours if lora.hours else 1.0
        return "lora", (
            f"LoRA: it fits comfortably ({lora.headroom_gib:.1f} GiB to spare of "
            f"{capacity:.1f}) and trains about {speedup:.1f}x faster than QLoRA, with no "
            "quantization error."
        )
    if qlora.fits:
        if lora.fits and goals.prefer_speed:
            why = f"LoRA would leave only {lora.headroom_gib:.1f} GiB to spare"
        elif lora.fits:
            why = "it stays within 1-2% of LoRA's quality for less memory"
        else:
            why = f"LoRA would need {lora.peak_gib:.1f} GiB"
        return "qlora", (
            f"QLoRA, the usual starting point: it needs {qlora.peak_gib:.1f} of "
            f"{capacity:.1f} GiB, and {why}."
        )
    for method in ("lora", "full"):
        if estimates[method].fits:  # quantization overhead can outweigh tiny models' savings
            return method, (
                f"{METHOD_TITLES[method]}: it is the only method that fits "
                f"({estimates[method].peak_gib:.1f} of {capacity:.1f} GiB)."
            )
    return "qlora", ""


def recommend(
    model: ModelArchitecture,
    settings: EstimateRun,
    gpu: GpuSpec,
    goals: Goals | None = None,
    stack: StackAssumptions = PROJECT_STACK,
    method: str = "auto",
) -> Recommendation:
    """Compare full, LoRA and QLoRA on this GPU and pick one (or report `method` if asked).

    When the chosen method does not fit, `fixes` holds the re-estimated remedies.
    """
    goals = goals or Goals()
    # The uncompared methods (8-bit LoRA) only when asked for by name.
    asked = (method,) if method in METHOD_NAMES and method not in COMPARED_METHODS else ()
    methods = COMPARED_METHODS + asked
    estimates = compare_methods(model, settings, gpu, stack, methods)
    picked, reason = _pick(estimates, goals, settings)
    chosen = picked if method == "auto" else method
    if chosen not in estimates:
        raise ValueError(f"unknown method {method!r}")
    fixes: tuple[Suggestion, ...] = ()
    if not estimates[chosen].fits:
        fixes = tuple(suggest_fits(estimates[chosen], stack))
        fitting = [fix for fix in fixes if fix.fits]
        what_would = (
            f"{fitting[0].label} would make it fit ({fitting[0].peak_gib:.1f} GiB)"
            if fitting
            else "no single change makes it fit"
        )
        if method == "auto":
            reason = (
                f"Nothing fits on {gpu.name}: QLoRA needs {estimates['qlora'].peak_gib:.1f} of "
                f"{gpu.memory_gib:.1f} GiB; {what_would}."
            )
        else:
            reason = f"{METHOD_TITLES[chosen]} {estimates[chosen].fit_summary()}; {what_would}."
    elif method != "auto" and (picked != chosen or not reason):
        # The method asked for is not the pick (or nothing was picked): say how it fares.
        reason = f"{METHOD_TITLES[chosen]} {estimates[chosen].fit_summary()}."
        if picked != chosen and reason:
            reason = reason[:-1] + f"; the pick for this GPU would be {METHOD_TITLES[picked]}."
    return Recommendation(chosen, reason, estimates, fixes)
