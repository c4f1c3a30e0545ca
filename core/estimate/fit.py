"""The one fit engine: what to change so that a run fits, as suggestions.

A Suggestion is a label, the changes (TrainConfig fields; GPU counts for the cluster's),
the reason and, where something predicted it, the estimate. The guide's remedies come from
`recipe_remedies`, mildest first within each kind; a predictor says which fit, and
`choose` keeps the mildest that fits of each kind. The Estimate page and the CLI predict
with the estimator (`suggest_fits`, which adds more GPUs, a bigger GPU and a smaller
model); pre-flight predicts from its measurement and then verifies the best suggestions
with real steps; a run that ran out of memory lists the remedies as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.estimate.architecture import catalog_names, load_architecture
from core.estimate.estimator import Estimate, estimate, fits_on_card
from core.estimate.gpus import GpuSpec, gpu_catalog
from core.estimate.settings import OPTIMIZER_STATE, PROJECT_STACK, StackAssumptions
from core.figures import money_text
from core.methods import METHOD_TITLES
from core.recipe.config import TrainConfig

GIB = 1024**3
SMALLEST_SEQ_LEN = 256
EIGHT_BIT_OPTIMIZER = "paged_adamw_8bit"
# Recomputing activations keeps each layer's input and one layer's activations at a time:
# about a third of what a step without checkpointing holds (measured on Llama-type models).
CHECKPOINTED_ACTIVATION_SHARE = 0.35


@dataclass
class Suggestion:
    """One change that should make the run fit, and why."""

    kind: str  # micro_batch, checkpointing, optimizer, seq_len, method, combined, gpus ...
    label: str
    changes: dict  # TrainConfig fields; num_gpus/sharding for the cluster's remedies
    reason: str
    estimate: Estimate | None = None  # the run re-estimated with the changes
    estimated_peak_bytes: int | None = None  # the predicted peak (estimator or measurement)
    fits_estimate: bool | None = None  # the prediction's verdict, when something predicted
    verified: bool = False  # pre-flight ran it with real steps and it fitted

    @property
    def fits(self) -> bool:
        """Predicted to fit on the card itself (a run that only fits by paging optimizer
        states to CPU RAM would name a peak above the card's memory)."""
        if self.estimate is not None:
            return fits_on_card(self.estimate)
        return bool(self.fits_estimate) or self.verified

    @property
    def peak_gib(self) -> float:
        if self.estimate is not None:
            return self.estimate.peak_gib
        return (self.estimated_peak_bytes or 0) / GIB

    def as_dict(self) -> dict:
        data = {
            "kind": self.kind,
            "label": self.label,
            "changes": dict(self.changes),
            "reason": self.reason,
            "estimated_peak_bytes": self.estimated_peak_bytes,
            "fits": self.fits if self.fits_estimate is not None or self.estimate else None,
            "verified": self.verified,
        }
        if self.estimate is not None:
            data.update(
                model=self.estimate.model.name,
                gpu=self.estimate.gpu.name,
                gpus=self.estimate.settings.num_gpus,
                peak_gb=round(self.estimate.peak_gib, 2),
                hours=round(self.estimate.hours, 3),
                cost_usd=round(self.estimate.cost_usd, 2),
            )
        return data


# A prediction for a set of changes: (peak bytes, fits, the estimate), None when unknown.
Prediction = tuple[int | None, bool | None, Estimate | None]
Predictor = Callable[[dict], Prediction | None]


def _eight_bit_saves(optimizer: str) -> bool:
    spec = OPTIMIZER_STATE.get(optimizer)
    return spec is not None and not (spec.moment_bytes == 1 or spec.moments == 0 or spec.factored)


def recipe_remedies(recipe: TrainConfig, device: str = "cuda") -> list[Suggestion]:
    """The guide's remedies for `recipe`, mildest first within each kind. On the CPU the
    sequence length comes first: there activations are most of the memory."""
    found: list[Suggestion] = []
    micro, accumulation = recipe.micro_batch_size, recipe.gradient_accumulation
    while micro > 1:
        micro //= 2
        factor = recipe.micro_batch_size // micro
        found.append(
            Suggestion(
                "micro_batch",
                f"micro batch {micro} x accumulation {accumulation * factor}",
                {"micro_batch_size": micro, "gradient_accumulation": accumulation * factor},
                "Same effective batch, fewer examples in memory at once; a little slower.",
            )
        )
    if not recipe.gradient_checkpointing:
        found.append(
            Suggestion(
                "checkpointing",
                "gradient checkpointing on",
                {"gradient_checkpointing": True},
                "Recomputes activations instead of storing them: much less memory, about "
                "20-30 % slower.",
            )
        )
        smallest = max(1, recipe.micro_batch_size // 4)
        factor = recipe.micro_batch_size // smallest
        if smallest < recipe.micro_batch_size:  # at micro batch 1 it is the remedy above
            found.append(
                Suggestion(
                    "checkpointing",
                    f"gradient checkpointing with micro batch {smallest} x accumulation "
                    f"{accumulation * factor}",
                    {
                        "gradient_checkpointing": True,
                        "micro_batch_size": smallest,
                        "gradient_accumulation": accumulation * factor,
                    },
                    "Both memory savers together.",
                )
            )
    optimizer = recipe.effective_optimizer(device)
    if device == "cuda" and _eight_bit_saves(optimizer):
        found.append(
            Suggestion(
                "optimizer",
                f"an 8-bit optimizer ({EIGHT_BIT_OPTIMIZER})",
                {"optimizer": EIGHT_BIT_OPTIMIZER},
                "Keeps the optimizer's two moments in 8 bits: 2 bytes per trained parameter "
                "instead of 8 or more.",
            )
        )
    sequence = recipe.max_seq_length // 2
    seq_remedies = []
    while sequence >= SMALLEST_SEQ_LEN:
        seq_remedies.append(
            Suggestion(
                "seq_len",
                f"max sequence length {sequence}",
                {"max_seq_length": sequence},
                "Activations grow with sequence length; longer conversations are cut.",
            )
        )
        sequence //= 2
    found = seq_remedies + found if device != "cuda" else found + seq_remedies
    if recipe.method != "qlora":
        changes: dict = {"method": "qlora"}
        if recipe.method == "full" and recipe.learning_rate:
            changes["learning_rate"] = 0.0  # full fine-tuning's rate is 10x too low for LoRA
        found.append(
            Suggestion(
                "method",
                "QLoRA (4-bit base model)",
                changes,
                "The frozen base model in 4 bits: about half of LoRA's memory, within 1-2 % "
                "of its quality.",
            )
        )
    # Only the savers this recipe lacks, so the label and changes name what really changes;
    # a single one is already its own remedy above.
    together: dict = {}
    named: list[str] = []
    if not recipe.gradient_checkpointing:
        together["gradient_checkpointing"] = True
        named.append("checkpointing")
    if recipe.micro_batch_size > 1:
        together["micro_batch_size"] = 1
        together["gradient_accumulation"] = accumulation * recipe.micro_batch_size
        named.append("micro batch 1")
    eight_bit = device == "cuda" and _eight_bit_saves(optimizer)
    if eight_bit:
        together["optimizer"] = EIGHT_BIT_OPTIMIZER
    if len(named) + eight_bit >= 2:
        found.append(
            Suggestion(
                "combined",
                ", ".join(named) + (" and an 8-bit optimizer" if eight_bit else "") + " together",
                together,
                "The memory savers that cost no quality, all at once.",
            )
        )
    return found


def choose(
    candidates: list[Suggestion],
    predict: Predictor | None = None,
    keep_closest: bool = False,
    limit: int | None = None,
) -> list[Suggestion]:
    """Per kind, the mildest candidate predicted to fit. Unknown predictions count as
    fitting (without a predictor: the mildest of each kind, so every remedy is named).
    keep_closest: a kind where nothing fits keeps its last (strongest) try, to show how
    close it came."""
    chosen: list[Suggestion] = []
    done: set[str] = set()
    last_tried: dict[str, Suggestion] = {}
    for candidate in candidates:
        if candidate.kind in done:
            continue
        prediction = predict(candidate.changes) if predict is not None else None
        if prediction is not None:
            peak, fits, result = prediction
            candidate.estimated_peak_bytes = peak
            candidate.fits_estimate = fits
            candidate.estimate = result
        if prediction is None or prediction[1] is None or candidate.fits:
            chosen.append(candidate)
            done.add(candidate.kind)
        else:
            last_tried[candidate.kind] = candidate
    if keep_closest:
        chosen += [s for kind, s in last_tried.items() if kind not in done]
    return chosen[:limit] if limit is not None else chosen


def suggest_for_recipe(
    recipe: TrainConfig,
    device: str = "cuda",
    predict: Predictor | None = None,
    limit: int = 4,
) -> list[Suggestion]:
    """The recipe's remedies, the mildest of each kind that is predicted to fit."""
    return choose(recipe_remedies(recipe, device), predict, limit=limit)


def measured_predictor(recipe: TrainConfig, static_bytes: int, peak_bytes: int, usable: int):
    """Predict micro batch and checkpointing changes from one measured step: what stays
    (weights, optimizer states) plus the activations scaled to the new micro batch."""
    activations = peak_bytes - static_bytes
    if activations <= 0:
        return None

    def predict(changes: dict) -> Prediction | None:
        if set(changes) - {"micro_batch_size", "gradient_accumulation", "gradient_checkpointing"}:
            return None  # a change this measurement says nothing about
        scaled = activations * changes.get("micro_batch_size", recipe.micro_batch_size)
        scaled /= recipe.micro_batch_size
        if changes.get("gradient_checkpointing") and not recipe.gradient_checkpointing:
            scaled *= CHECKPOINTED_ACTIVATION_SHARE
        peak = int(static_bytes + scaled)
        return peak, peak <= usable, None

    return predict


# The estimator's remedies -------------------------------------------------------------


def estimator_predictor(result: Estimate, stack: StackAssumptions = PROJECT_STACK) -> Predictor:
    def predict(changes: dict) -> Prediction:
        attempt = estimate(result.model, result.settings.replace(**changes), result.gpu, stack)
        return int(attempt.peak_gib * GIB), fits_on_card(attempt), attempt

    return predict


def suggest_fits(
    result: Estimate, stack: StackAssumptions = PROJECT_STACK, include_catalog: bool = True
) -> list[Suggestion]:
    """Every remedy for an estimated run, re-estimated: the recipe's (mildest that fits of
    each kind, else the closest), more of this GPU with FSDP, and with the catalog a GPU
    with more memory or a smaller model."""
    settings = result.settings
    suggestions = choose(
        recipe_remedies(settings.recipe), estimator_predictor(result, stack), keep_closest=True
    )
    more_of_this_gpu = _multi_gpu(result, result.gpu, stack, {})
    suggestions += more_of_this_gpu
    qlora_alone = next((s for s in suggestions if s.kind == "method"), None)
    qlora_short = settings.method != "qlora" and qlora_alone is not None and not qlora_alone.fits
    if qlora_short:
        suggestions += _multi_gpu(result, result.gpu, stack, {"method": "qlora"})
    if include_catalog:
        bigger = _bigger_gpu(result, stack)
        if bigger is not None:
            suggestions.append(bigger)
        elif not any(s.fits for s in more_of_this_gpu):
            suggestions += _multi_gpu(result, _largest_gpu(), stack, {}, only_fitting=True)
        if qlora_short:
            bigger_qlora = _bigger_gpu(result, stack, method="qlora")
            if bigger_qlora is not None:
                suggestions.append(bigger_qlora)
        smaller = _smaller_model(result, stack)
        if smaller is not None:
            suggestions.append(smaller)
    return suggestions


def _estimated(kind: str, label: str, changes: dict, reason: str, attempt: Estimate) -> Suggestion:
    return Suggestion(
        kind,
        label,
        changes,
        reason,
        attempt,
        int(attempt.peak_gib * GIB),
        fits_on_card(attempt),
    )


def _multi_gpu(
    result: Estimate, gpu: GpuSpec, stack: StackAssumptions, changes: dict, only_fitting=False
) -> list[Suggestion]:
    """FSDP over 2, 4 and 8 of `gpu` (with micro batch 1 where needed), up to the first that
    fits; `changes` (e.g. QLoRA) apply to every attempt."""
    settings = result.settings
    title = f"{METHOD_TITLES[changes['method']]} on " if "method" in changes else ""
    tried: list[Suggestion] = []
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
    return [s for s in tried if s.fits] if only_fitting else tried


def _on_gpus(
    result: Estimate, gpu: GpuSpec, stack: StackAssumptions, gpus: int, label: str, changes: dict
) -> Suggestion:
    changes = {"num_gpus": gpus, "sharding": "fsdp", **changes}
    attempt = estimate(result.model, result.settings.replace(**changes), gpu, stack)
    reason = "Fully sharded data parallel splits weights, gradients and optimizer states."
    return _estimated("gpus", label, changes, reason, attempt)


def _largest_gpu() -> GpuSpec:
    """The catalog card with the most memory (the cheapest of those)."""
    return max(gpu_catalog().values(), key=lambda g: (g.memory_gib, -g.price_per_hour))


def _bigger_gpu(result: Estimate, stack: StackAssumptions, method: str = "") -> Suggestion | None:
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
    return _estimated(
        "bigger_gpu",
        f"{title}a GPU with more memory: {gpu.name} ({gpu.memory_gib:.0f} GiB, "
        f"{money_text(gpu.price_per_hour)}/h)",
        {"method": method} if method else {},
        "The same run on a card that holds it.",
        attempt,
    )


def _smaller_model(result: Estimate, stack: StackAssumptions) -> Suggestion | None:
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
            return _estimated(
                "smaller_model",
                f"a smaller model such as {model.name} ({model.total_params / 1e9:.1f}B)",
                {"base_model": model.name},
                "A smaller base model needs less of everything.",
                attempt,
            )
    return None
