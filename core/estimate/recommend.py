"""The pick: full fine-tuning, LoRA or QLoRA for this GPU, with the reason in one sentence.

It follows the seed guide: QLoRA is the usual starting point; LoRA when it fits
comfortably and speed matters; full fine-tuning only when it fits and the task (new
reasoning patterns) and the data (thousands of expert examples) justify its cost and its
risk of catastrophic forgetting. When nothing fits, each of the guide's remedies is
re-estimated and the ones that make the run fit are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.estimate.architecture import ModelArchitecture, catalog_names, load_architecture
from core.estimate.estimator import Estimate, compare_methods, estimate
from core.estimate.gpus import GpuSpec, gpu_catalog
from core.estimate.run import EstimateRun
from core.estimate.settings import OPTIMIZER_STATE, PROJECT_STACK, StackAssumptions
from core.figures import money_text
from core.methods import COMPARED_METHODS, METHOD_NAMES, METHOD_TITLES

TASK_KINDS = ("format", "domain", "reasoning")
# Full fine-tuning is worth its cost only for new reasoning patterns with enough data:
# the seed puts those at 2,000-10,000 examples.
FULL_FINE_TUNING_MIN_EXAMPLES = 2000
# "Fits comfortably": room left for longer batches than the average and for other processes.
COMFORT_FRACTION = 0.15
COMFORT_MIN_GIB = 2.0
SMALLEST_SEQ_LEN = 256


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
class Fix:
    """One change that was re-estimated; `fits` says whether it makes the run fit."""

    kind: str
    change: str
    estimate: Estimate

    @property
    def fits(self) -> bool:
        """A remedy must fit on the card itself: one that only fits by paging optimizer
        states to CPU RAM would be named with a peak above the card's memory."""
        return fits_on_card(self.estimate)

    @property
    def peak_gib(self) -> float:
        return self.estimate.peak_gib

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "change": self.change,
            "fits": self.fits,
            "peak_gb": round(self.peak_gib, 2),
            "model": self.estimate.model.name,
            "gpu": self.estimate.gpu.name,
            "gpus": self.estimate.settings.num_gpus,
            "hours": round(self.estimate.hours, 3),
            "cost_usd": round(self.estimate.cost_usd, 2),
        }


@dataclass(frozen=True)
class Recommendation:
    method: str
    reason: str
    estimates: dict[str, Estimate]
    fixes: tuple[Fix, ...] = ()

    @property
    def chosen(self) -> Estimate:
        return self.estimates[self.method]

    @property
    def fits(self) -> bool:
        return self.chosen.fits

    def fitting_fixes(self) -> list[Fix]:
        return [fix for fix in self.fixes if fix.fits]


def fits_on_card(result: Estimate) -> bool:
    return result.fits and not result.memory.pages_to_cpu


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


def _with(result: Estimate, kind: str, change: str, stack: StackAssumptions, **changes) -> Fix:
    settings = result.settings.replace(**changes)
    return Fix(kind, change, estimate(result.model, settings, result.gpu, stack))


def suggest_fixes(
    result: Estimate, stack: StackAssumptions = PROJECT_STACK, include_catalog: bool = True
) -> list[Fix]:
    """Re-estimate the run with each of the guide's remedies, most targeted first."""
    settings = result.settings
    fixes: list[Fix] = []
    if not settings.gradient_checkpointing:
        fixes.append(
            _with(
                result,
                "checkpointing",
                "turn on gradient checkpointing",
                stack,
                gradient_checkpointing=True,
            )
        )
    spec = OPTIMIZER_STATE[settings.optimizer]
    if not (spec.moment_bytes == 1 or spec.moments == 0 or spec.factored):
        fixes.append(
            _with(
                result,
                "optimizer",
                "an 8-bit optimizer (paged_adamw_8bit)",
                stack,
                optimizer="paged_adamw_8bit",
            )
        )
    if settings.micro_batch_size > 1:
        accumulation = settings.gradient_accumulation * settings.micro_batch_size
        fixes.append(
            _with(
                result,
                "micro_batch",
                f"micro batch 1 with accumulation {accumulation} (same effective batch)",
                stack,
                micro_batch_size=1,
                gradient_accumulation=accumulation,
            )
        )
    seq_len = settings.max_seq_length // 2
    shortest = None
    while seq_len >= SMALLEST_SEQ_LEN:
        shortest = _with(
            result, "seq_len", f"sequences of {seq_len} tokens", stack, max_seq_length=seq_len
        )
        if shortest.fits:
            break
        seq_len //= 2
    if shortest is not None:
        fixes.append(shortest)
    if settings.method != "qlora":
        fixes.append(
            _with(
                result,
                "method",
                f"QLoRA instead of {METHOD_TITLES[settings.method]}",
                stack,
                method="qlora",
            )
        )
    together = {
        "gradient_checkpointing": True,
        "micro_batch_size": 1,
        "gradient_accumulation": settings.gradient_accumulation * settings.micro_batch_size,
    }
    if not (spec.moment_bytes == 1 or spec.moments == 0 or spec.factored):
        together["optimizer"] = "paged_adamw_8bit"
    fixes.append(
        _with(
            result,
            "combined",
            "checkpointing, micro batch 1 and an 8-bit optimizer together",
            stack,
            **together,
        )
    )
    more_of_this_gpu = _multi_gpu(result, result.gpu, stack, {})
    fixes += more_of_this_gpu
    qlora_alone = next((fix for fix in fixes if fix.kind == "method"), None)
    if settings.method != "qlora" and qlora_alone is not None and not qlora_alone.fits:
        fixes += _multi_gpu(result, result.gpu, stack, {"method": "qlora"})
    if include_catalog:
        bigger = _bigger_gpu(result, stack)
        if bigger is not None:
            fixes.append(bigger)
        elif not any(fix.fits for fix in more_of_this_gpu):
            fixes += _multi_gpu(result, _largest_gpu(), stack, {}, only_fitting=True)
        if settings.method != "qlora" and qlora_alone is not None and not qlora_alone.fits:
            bigger_qlora = _bigger_gpu(result, stack, method="qlora")
            if bigger_qlora is not None:
                fixes.append(bigger_qlora)
        smaller = _smaller_model(result, stack)
        if smaller is not None:
            fixes.append(smaller)
    return fixes


def _multi_gpu(
    result: Estimate, gpu: GpuSpec, stack: StackAssumptions, changes: dict, only_fitting=False
) -> list[Fix]:
    """FSDP over 2, 4 and 8 of `gpu` (with micro batch 1 where needed), up to the first that
    fits; `changes` (e.g. QLoRA) apply to every attempt."""
    settings = result.settings
    title = f"{METHOD_TITLES[changes['method']]} on " if "method" in changes else ""
    tried: list[Fix] = []
    for gpus in (2, 4, 8):
        if gpus <= settings.num_gpus and gpu == result.gpu:
            continue
        attempt = _on_gpus(
            result, gpu, stack, gpus, f"{title}{gpus} x {gpu.name} with FSDP", changes
        )
        if not attempt.fits and settings.micro_batch_size > 1:
            attempt = _on_gpus(
                result,
                gpu,
                stack,
                gpus,
                f"{title}{gpus} x {gpu.name} with FSDP and micro batch 1",
                {
                    **changes,
                    "micro_batch_size": 1,
                    "gradient_accumulation": settings.gradient_accumulation
                    * settings.micro_batch_size,
                },
            )
        tried.append(attempt)
        if attempt.fits:
            break
    return [fix for fix in tried if fix.fits] if only_fitting else tried


def _on_gpus(
    result: Estimate, gpu: GpuSpec, stack: StackAssumptions, gpus: int, change: str, changes: dict
) -> Fix:
    settings = result.settings.replace(num_gpus=gpus, sharding="fsdp", **changes)
    return Fix("gpus", change, estimate(result.model, settings, gpu, stack))


def _largest_gpu() -> GpuSpec:
    """The catalog card with the most memory (the cheapest of those)."""
    return max(gpu_catalog().values(), key=lambda g: (g.memory_gib, -g.price_per_hour))


def _bigger_gpu(result: Estimate, stack: StackAssumptions, method: str = "") -> Fix | None:
    """The catalog GPU with more memory on which this run (or its `method` variant) fits
    without paging and costs least.

    The memory a run needs does not depend on the card (only whether it fits does), and
    its cost goes with price / throughput, so one estimate on the best candidate suffices.
    """
    settings = result.settings.replace(method=method) if method else result.settings
    base = estimate(result.model, settings, result.gpu, stack) if method else result
    need = base.peak_gib
    candidates = [
        gpu
        for gpu in gpu_catalog().values()
        if need <= gpu.memory_gib and gpu.memory_gib > result.gpu.memory_gib
    ]
    if not candidates:
        return None
    # The lowest hourly price: what renting costs while you iterate, whatever the run length.
    gpu = min(candidates, key=lambda g: (g.price_per_hour, g.memory_gib))
    attempt = estimate(result.model, settings, gpu, stack)
    if not fits_on_card(attempt):
        return None
    title = f"{METHOD_TITLES[method]} on " if method else ""
    return Fix(
        "bigger_gpu",
        f"{title}a GPU with more memory: {gpu.name} ({gpu.memory_gib:.0f} GiB, "
        f"{money_text(gpu.price_per_hour)}/h)",
        attempt,
    )


def _smaller_model(result: Estimate, stack: StackAssumptions) -> Fix | None:
    """The largest catalog model smaller than this one that fits with the same settings."""
    smaller = sorted(
        (
            model
            for model in (load_architecture(name) for name in catalog_names())
            if model.total_params < result.model.total_params and not model.encoder_decoder
        ),
        key=lambda model: model.total_params,
        reverse=True,
    )
    for model in smaller:
        try:
            attempt = estimate(model, result.settings, result.gpu, stack)
        except ValueError:  # e.g. LoRA target names this model does not have
            continue
        if fits_on_card(attempt):
            return Fix(
                "smaller_model",
                f"a smaller model such as {model.name} ({model.total_params / 1e9:.1f}B)",
                attempt,
            )
    return None


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
    fixes: tuple[Fix, ...] = ()
    if not estimates[chosen].fits:
        fixes = tuple(suggest_fixes(estimates[chosen], stack))
        fitting = [fix for fix in fixes if fix.fits]
        what_would = (
            f"{fitting[0].change} would make it fit ({fitting[0].peak_gib:.1f} GiB)"
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
