"""The longest context a run can train on its GPU, per method (`max_seq_length_that_fits`).

Each length is estimated as the trainer would run it: memory savers left at "auto" are
turned on, cheapest first, where that length needs them (core.estimate.savers).
"""

from __future__ import annotations

from core.estimate.architecture import ModelArchitecture, architecture_from_config
from core.estimate.estimator import estimate, estimate_as_given
from core.estimate.gpus import GpuSpec, find_gpu
from core.estimate.memory import MemoryEstimate
from core.estimate.run import EstimateRun
from core.estimate.settings import PROJECT_STACK, StackAssumptions
from core.methods import COMPARED_METHODS, METHOD_TITLES
from core.recipe.config import TrainConfig
from core.recipe.vocabularies import MAX_SEQ_LENGTH

# Lengths are searched in steps of this many tokens.
CONTEXT_STEP = 256


def max_seq_length_that_fits(
    arch: ModelArchitecture,
    run: EstimateRun,
    gpu: GpuSpec,
    stack: StackAssumptions = PROJECT_STACK,
) -> int:
    """The longest sequence (a multiple of 256 tokens) the run trains on `gpu` at its micro
    batch, with its "auto" savers picked at each length; 0 when not even 256 tokens fit."""

    def fits(length: int) -> bool:
        return estimate(arch, run.replace(max_seq_length=length), gpu, stack).fits

    if not fits(CONTEXT_STEP):
        return 0
    low, high = 1, MAX_SEQ_LENGTH // CONTEXT_STEP  # in steps; fits(low) holds
    if fits(high * CONTEXT_STEP):
        return high * CONTEXT_STEP
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle * CONTEXT_STEP):
            low = middle
        else:
            high = middle
    return low * CONTEXT_STEP


def max_seq_length_per_method(
    arch: ModelArchitecture,
    run: EstimateRun,
    gpu: GpuSpec,
    stack: StackAssumptions = PROJECT_STACK,
    methods: tuple[str, ...] = COMPARED_METHODS,
) -> dict[str, int]:
    """{method: longest context that fits} at the run's micro batch (ValueError skipped)."""
    lengths: dict[str, int] = {}
    for method in methods:
        try:
            lengths[method] = max_seq_length_that_fits(arch, run.replace(method=method), gpu, stack)
        except ValueError:
            continue
    return lengths


def estimate_for_recipe(
    model_config: dict, recipe: TrainConfig, gpu_name: str = "H100 SXM"
) -> MemoryEstimate:
    """The memory estimate of `recipe` exactly as set ("auto" savers off) for a model's
    config.json: what the capacity benchmark puts beside the simulated step."""
    arch = architecture_from_config(model_config, model_config.get("_name_or_path", "model"))
    return estimate_as_given(arch, EstimateRun(recipe), find_gpu(gpu_name)).memory


def capacity_text(arch: ModelArchitecture, run: EstimateRun, gpu: GpuSpec, chosen) -> str:
    """The Estimate page's lines: the longest context per method on this card, and the
    savers the chosen method's estimate (`chosen`, an Estimate) turned on, with why."""
    longest = max_seq_length_per_method(arch, run, gpu)
    where = f"on {gpu.name} at micro batch {run.micro_batch_size}"
    fitting = [f"{METHOD_TITLES[m]} {n:,} tokens" for m, n in longest.items() if n]
    if fitting:
        text = f"Longest context {where} (memory savers as needed): {', '.join(fitting)}"
        missing = [METHOD_TITLES[m] for m, n in longest.items() if not n]
        text += f"; {', '.join(missing)}: none fits." if missing else "."
    else:
        text = f"No method fits any context {where}, even with every memory saver."
    if chosen.savers_turned_on:
        verb = "turned on to fit" if chosen.fits else "turned on (not enough to fit)"
        text += f" Memory savers {verb}: " + "; ".join(chosen.savers_turned_on) + "."
    return text
