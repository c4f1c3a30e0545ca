"""Memory savers in the estimate: which ones a run needs on its GPU, cheapest first.

A saver left at "auto" in the recipe is turned on only when the estimate says the run
does not fit without it, in order of its cost (least slowdown first), each with the
reason: how many GiB it saved and what it costs. The estimate function is passed in, so
that core.estimate.estimator can pick with its own as-given estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.estimate.activations import MLP_TILE_TOKENS
from core.estimate.architecture import ModelArchitecture
from core.recipe.config import TrainConfig


@dataclass(frozen=True)
class Saver:
    """One memory saver the pick may turn on: the recipe change and its trade-off."""

    field: str
    title: str
    cost: str  # the trade-off, in words
    change: dict
    applies: Callable[[ModelArchitecture, TrainConfig], bool]

    def is_auto(self, recipe: TrainConfig) -> bool:
        if self.field == "lora_dropout":
            # Lowered only for a recipe that leaves the savers to the pick.
            return recipe.lora_dropout > 0 and has_auto(recipe)
        return getattr(recipe, self.field) == "auto"


# Least slowdown first: the pick stops at the first that makes the run fit.
SAVERS: tuple[Saver, ...] = (
    Saver(
        "frozen_16bit",
        "16-bit frozen parts",
        "no slowdown",
        {"frozen_16bit": "on"},
        lambda arch, recipe: recipe.method in ("qlora", "lora8bit"),
    ),
    Saver(
        "lora_dropout",
        "LoRA dropout 0",
        "no slowdown; less regularisation",
        {"lora_dropout": 0.0},
        lambda arch, recipe: recipe.method != "full",
    ),
    Saver(
        "offload_activations",
        "activation offloading",
        "about 5 % slower; layers x tokens x hidden x 2 bytes of CPU RAM",
        {"offload_activations": "on"},
        lambda arch, recipe: recipe.gradient_checkpointing,
    ),
    Saver(
        "tiled_mlp",
        "tiled MLP",
        "about 10-15 % slower: one more MLP forward pass",
        {"tiled_mlp": "on"},
        lambda arch, recipe: (
            not arch.is_moe and recipe.micro_batch_size * recipe.max_seq_length > MLP_TILE_TOKENS
        ),
    ),
)
SAVER_FIELDS = ("frozen_16bit", "offload_activations", "tiled_mlp")


def has_auto(recipe: TrainConfig) -> bool:
    return any(getattr(recipe, name) == "auto" for name in SAVER_FIELDS)


def without_auto(recipe: TrainConfig) -> TrainConfig:
    """The recipe with every "auto" saver off (what the trainer does when none is needed)."""
    changes = {name: "off" for name in SAVER_FIELDS if getattr(recipe, name) == "auto"}
    return recipe.replace(**changes) if changes else recipe


def pick_savers(arch: ModelArchitecture, run, estimate_as_given: Callable):
    """(run with its "auto" savers decided, its estimate, one reason per saver turned on).

    `estimate_as_given(run)` estimates a run exactly as set. Savers are tried cheapest
    first and kept while the run does not fit; one that saves nothing here is skipped."""
    asked = run.recipe
    current = run.replace(**_changes(asked, without_auto(asked)))
    result = estimate_as_given(current)
    reasons: list[str] = []
    for saver in SAVERS:
        if result.fits:
            break
        if not saver.is_auto(asked) or not saver.applies(arch, current.recipe):
            continue
        candidate = current.replace(**saver.change)
        better = estimate_as_given(candidate)
        saved = result.peak_gib - better.peak_gib
        if saved <= 0.01:
            continue
        reasons.append(f"{saver.title} saves {saved:.1f} GiB ({saver.cost})")
        current, result = candidate, better
    return current, result, tuple(reasons)


def _changes(before: TrainConfig, after: TrainConfig) -> dict:
    return {
        name: getattr(after, name)
        for name in SAVER_FIELDS
        if getattr(before, name) != getattr(after, name)
    }
