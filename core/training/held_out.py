"""What a run's evaluations measure on held-out data, per stage: the one number early
stopping and the "best" final model watch, and the words advice uses for it.

SFT: the validation loss (lower is better). DPO: its loss on held-out pairs (lower is
better; the reward margin and the pairs ranked right are recorded beside it). GRPO: the
mean reward of the answers to held-out prompts (higher is better); its loss is a
policy-gradient surrogate around 0 that says nothing about how good the answers are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.runs.records import MetricRecord


@dataclass(frozen=True)
class HeldOutMeasure:
    field: str  # the MetricRecord field of a validation record
    trainer_metric: str  # the trainer's name for it (metric_for_best_model)
    higher_is_better: bool
    name: str  # as messages name it

    def value(self, record: MetricRecord) -> float | None:
        """The measure in a validation record; None where it is missing or not finite."""
        value = getattr(record, self.field, None)
        return value if value is not None and math.isfinite(value) else None

    def better(self, value: float, than: float) -> bool:
        return value > than if self.higher_is_better else value < than


VALIDATION_LOSS = HeldOutMeasure("eval_loss", "eval_loss", False, "validation loss")
HELD_OUT_MEASURES = {
    "sft": VALIDATION_LOSS,
    "dpo": HeldOutMeasure("eval_loss", "eval_loss", False, "held-out DPO loss"),
    # TRL's GRPOTrainer logs the held-out prompts' mean reward as eval_reward.
    "grpo": HeldOutMeasure("reward", "eval_reward", True, "held-out reward"),
}


def held_out_measure(stage: str) -> HeldOutMeasure:
    return HELD_OUT_MEASURES.get(stage, VALIDATION_LOSS)
