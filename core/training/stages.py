"""The stage dispatch point: which trainer a run builds, chosen by its recipe's `stage`.

Every stage shares the rest of a run (run_setup's record, run_loop's train and conclude,
the callback, pause and stop, checkpoints and resume, the memory guard, run_finish); a
stage only supplies how its data is read (core.training.stage_data) and how its trainer
is built here. A builder takes (session, inputs) and returns (trainer, callback logic,
optimizer steps), as trainer_setup.build_trainer does for SFT.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.recipe.config import TrainConfigError
from core.training.dpo_setup import build_dpo_trainer
from core.training.grpo_setup import build_grpo_trainer
from core.training.trainer_setup import build_trainer as build_sft_trainer

if TYPE_CHECKING:
    from core.training.run_setup import RunInputs
    from core.training.session_state import SessionState

# stage -> builder; a stage not listed here is not available in this build.
STAGE_TRAINERS = {
    "sft": build_sft_trainer,
    "dpo": build_dpo_trainer,
    "grpo": build_grpo_trainer,
}


def build_stage_trainer(session: SessionState, inputs: RunInputs):
    """The trainer of the run's stage, its callback logic and its number of steps."""
    stage = inputs.config.stage
    builder = STAGE_TRAINERS.get(stage)
    if builder is None:
        raise TrainConfigError(
            "stage",
            f"the {stage} stage is not available in this build; use one of: "
            f"{', '.join(STAGE_TRAINERS)}.",
        )
    return builder(session, inputs)
