"""One estimate of a training run: peak memory per GPU, whether it fits, time and cost."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from core.estimate.architecture import ModelArchitecture
from core.estimate.gpus import GpuSpec
from core.estimate.memory import MemoryEstimate, estimate_memory
from core.estimate.run import EstimateRun
from core.estimate.savers import SAVER_FIELDS, has_auto, pick_savers
from core.estimate.settings import PROJECT_STACK, StackAssumptions, stack_for_stage
from core.estimate.training_time import TimeEstimate, estimate_time
from core.methods import COMPARED_METHODS, METHOD_TITLES


@dataclass(frozen=True)
class Estimate:
    """Everything the page, the CLI and the trainer's pre-flight check need."""

    model: ModelArchitecture
    settings: EstimateRun
    gpu: GpuSpec
    memory: MemoryEstimate
    time: TimeEstimate
    # One line per memory saver the recipe left at "auto" and the run needed (savers.py).
    savers_turned_on: tuple[str, ...] = ()
    # The run as estimated, its "auto" savers decided (None: `settings` as given); the
    # settings stay the recipe as asked, so that it goes back to the Train page unchanged.
    resolved: EstimateRun | None = None

    @property
    def estimated_run(self) -> EstimateRun:
        return self.resolved or self.settings

    @property
    def method(self) -> str:
        return self.settings.method

    @property
    def fits(self) -> bool:
        return self.memory.fits

    @property
    def peak_gib(self) -> float:
        return self.memory.peak_gib

    @property
    def headroom_gib(self) -> float:
        return self.memory.headroom_gib

    @property
    def hours(self) -> float:
        return self.time.hours

    @property
    def cost_usd(self) -> float:
        return self.time.cost_usd

    @property
    def assumptions(self) -> tuple[str, ...]:
        return self.memory.assumptions + self.time.assumptions

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.memory.warnings

    def fit_summary(self) -> str:
        """'fits, 4.1 GiB to spare' / 'does not fit: needs 31.2 of 24.0 GiB'."""
        capacity = self.memory.capacity_gib
        if self.memory.pages_to_cpu:
            return (
                f"fits only by paging optimizer states to CPU RAM ({self.peak_gib:.1f} of "
                f"{capacity:.1f} GiB)"
            )
        if self.fits:
            return f"fits, {self.headroom_gib:.1f} GiB to spare of {capacity:.1f} GiB"
        return f"does not fit: needs {self.peak_gib:.1f} of {capacity:.1f} GiB"

    def as_dict(self) -> dict:
        """The fields the CLI prints with --json (GiB, hours, USD)."""
        return {
            "method": self.method,
            "title": METHOD_TITLES[self.method],
            "fits": self.fits,
            "peak_gb": round(self.peak_gib, 2),
            "allocated_gb": round(self.memory.allocated_gib, 2),
            "capacity_gb": round(self.memory.capacity_gib, 2),
            "headroom_gb": round(self.headroom_gib, 2),
            "pages_to_cpu": self.memory.pages_to_cpu,
            "breakdown": {key: round(value, 3) for key, value in self.memory.breakdown().items()},
            "trainable_params": self.memory.trainable_params,
            "hours": round(self.hours, 3),
            "cost_usd": round(self.cost_usd, 2),
            "tokens_per_epoch": self.time.processed_tokens_per_epoch,
            "steps": self.time.steps,
            "utilisation": round(self.time.utilisation, 3),
            "warnings": list(self.warnings),
            "memory_savers": {
                name: getattr(self.estimated_run.recipe, name) for name in SAVER_FIELDS
            }
            | {"lora_dropout": self.estimated_run.recipe.lora_dropout},
            "memory_savers_turned_on": list(self.savers_turned_on),
            "offloaded_cpu_ram_gb": round(self.memory.offloaded_gib, 2),
        }


def estimate(
    model: ModelArchitecture,
    settings: EstimateRun,
    gpu: GpuSpec,
    stack: StackAssumptions = PROJECT_STACK,
) -> Estimate:
    """Estimate one run; ValueError when the settings do not apply to this model. Memory
    savers left at "auto" are turned on, cheapest first, only when the run needs them."""
    # The recipe's "auto" precision resolves on this card as the trainer resolves it.
    if settings.bf16_supported != gpu.bf16:
        settings = settings.replace(bf16_supported=gpu.bf16)

    if not has_auto(settings.recipe):
        return estimate_as_given(model, settings, gpu, stack)
    resolved, result, reasons = pick_savers(
        model, settings, lambda run: estimate_as_given(model, run, gpu, stack)
    )
    return dataclasses.replace(
        result, settings=settings, resolved=resolved, savers_turned_on=reasons
    )


def estimate_as_given(
    model: ModelArchitecture,
    settings: EstimateRun,
    gpu: GpuSpec,
    stack: StackAssumptions = PROJECT_STACK,
) -> Estimate:
    """The run exactly as set: a saver still "auto" counts as off."""
    return Estimate(
        model=model,
        settings=settings,
        gpu=gpu,
        memory=estimate_memory(model, settings, gpu, stack_for_stage(stack, settings.recipe.stage)),
        time=estimate_time(model, settings, gpu),
    )


def fits_on_card(result: Estimate) -> bool:
    """Fits on the card itself, not only by paging optimizer states to CPU RAM."""
    return result.fits and not result.memory.pages_to_cpu


def compare_methods(
    model: ModelArchitecture,
    settings: EstimateRun,
    gpu: GpuSpec,
    stack: StackAssumptions = PROJECT_STACK,
    methods: tuple[str, ...] = COMPARED_METHODS,
) -> dict[str, Estimate]:
    """The same run for full fine-tuning, LoRA and QLoRA (in that order)."""
    return {
        method: estimate(model, settings.replace(method=method), gpu, stack) for method in methods
    }
