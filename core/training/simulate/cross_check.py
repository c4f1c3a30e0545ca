"""The estimator next to the simulation: the same run, the same model, the two figures.

Used by `finetune-studio estimate --simulate`, the accuracy tests and the GPU acceptance
benchmark. The simulation sees what torch.cuda.max_memory_allocated() would report, so it
is compared with the estimator's allocated figure, not with its peak (which adds the CUDA
context and the allocator's reserve that no tensor shows).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.estimate.run import EstimateRun
from core.models.catalog import catalog_model, model_catalog
from core.models.hub_cache import looks_like_hub_id
from core.models.hub_config import HubConfigMissing, hub_model_config
from core.training.simulate import SimulationError, simulate_peak, simulation_unavailable


class ModelConfigError(ValueError):
    """No config.json facts for the model; the message says what was tried."""


def model_config_dict(source: str) -> dict:
    """The model's config.json facts: a catalog name, a model folder or a config.json path."""
    text = str(source).strip()
    names = {name.lower(): name for name in model_catalog()}
    if text.lower() in names:
        facts = dict(catalog_model(names[text.lower()]))
        facts.pop("hf_id", None)
        return facts
    path = Path(text).expanduser()
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise ModelConfigError(
            f"{text}: not a catalog model, a model folder or a config.json; the simulation "
            "needs the model's config.json"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ModelConfigError(f"cannot read {path}: {error}") from None
    if not isinstance(config, dict) or "model_type" not in config:
        raise ModelConfigError(f"{path}: no model_type, so transformers cannot build the model")
    return config


def train_config_for(settings: EstimateRun, base_model: str = "simulated"):
    """The recipe our trainer runs for this estimate (one GPU), with the precision and
    optimizer resolved as the estimate resolved them on its card.

    all-linear stays "all-linear": the trainer resolves it against the built model (its
    linear layers, and the experts of a mixture of experts).
    """
    if settings.num_gpus != 1:
        raise ValueError("the simulation covers one GPU: leave out --gpus")
    # bf16-mixed is how the trainer runs full fine-tuning in bf16 (fp32 weights, autocast).
    precision = {"bf16-mixed": "bf16"}.get(settings.precision, settings.precision)
    return settings.recipe.replace(
        base_model=base_model,
        train_file="simulated.jsonl",
        dataset_version="",
        precision=precision,
        optimizer=settings.optimizer,
    )


@dataclass(frozen=True)
class CrossCheck:
    """One run: what the estimator says and what the simulated step allocated."""

    estimated_allocated_gib: float
    simulated_gib: float
    estimated_trainable: int
    simulated_trainable: int

    @property
    def ratio(self) -> float:
        """Estimate / simulation (1.0 = agree)."""
        return self.estimated_allocated_gib / self.simulated_gib

    def line(self) -> str:
        return (
            f"Simulated step (our trainer on a simulated GPU): {self.simulated_gib:.2f} GiB "
            f"allocated; the estimate says {self.estimated_allocated_gib:.2f} GiB allocated "
            f"({self.ratio:.2f} x). Allocator reserve and CUDA context come on top of both."
        )

    def as_dict(self) -> dict:
        return {
            "simulated_allocated_gb": round(self.simulated_gib, 3),
            "estimated_allocated_gb": round(self.estimated_allocated_gib, 3),
            "ratio": round(self.ratio, 3),
            "simulated_trainable_params": self.simulated_trainable,
            "estimated_trainable_params": self.estimated_trainable,
        }


def model_config_for_estimate(model_text: str) -> dict:
    """config.json facts for what `estimate --model` was given (a Hub id: from the catalog or
    the local cache, never the network)."""
    if looks_like_hub_id(model_text):
        try:
            return model_config_dict(str(hub_model_config(model_text, fetch=False)))
        except HubConfigMissing as error:
            raise ModelConfigError(str(error)) from None
    return model_config_dict(model_text)


def cross_check(result, model_config: dict, steps: int = 2) -> CrossCheck:
    """Simulate the run of an Estimate (one GPU) and set the two figures side by side.

    Raises ValueError for settings the trainer cannot run and SimulationError when the
    simulation cannot be done here.
    """
    reason = simulation_unavailable()
    if reason:
        raise SimulationError(reason)
    config = train_config_for(result.settings)
    simulated = simulate_peak(model_config, config, steps)
    return CrossCheck(
        estimated_allocated_gib=result.memory.allocated_gib,
        simulated_gib=simulated.peak_gib,
        estimated_trainable=result.memory.trainable_params,
        simulated_trainable=simulated.trainable_params,
    )


def simulate_for_estimate(rec, model: str) -> dict:
    """`finetune-studio estimate --simulate`: the chosen method's run simulated beside its
    estimate, or why it was not ({"error": ...})."""
    try:
        check = cross_check(rec.chosen, model_config_for_estimate(model))
    except (SimulationError, ModelConfigError, ValueError) as error:
        return {"error": str(error)}
    return {**check.as_dict(), "line": check.line()}
