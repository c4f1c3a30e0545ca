"""The stage dispatch point for data: what a run's stage reads from its dataset.

SFT reads conversations (core.training.prepare.read_data); DPO reads preference pairs;
GRPO reads prompts (core.training.grpo_data).
Each reader returns an object with the PreparedData surface run_setup uses: `source`
(a DatasetSource), `notes`, `train`, `valid` and `stats()`. Data of the other kind (pairs
for SFT, conversations for DPO) stops the run here, naming the setting to change.
"""

from __future__ import annotations

from core.dataset.preferences import is_preference_file
from core.recipe.config import TrainConfig, TrainConfigError
from core.training.dpo_data import read_preference_data
from core.training.grpo_data import read_prompt_data
from core.training.prepare import read_data, resolve_dataset

# stage -> reader; stages not listed read conversations.
STAGE_DATA_READERS = {"dpo": read_preference_data, "grpo": read_prompt_data}
# stage -> whether its data is preference pairs (stages not listed bring their own checks).
READS_PAIRS = {"sft": False, "dpo": True, "grpo": False}


def read_stage_data(project, config: TrainConfig):
    """The run's data as its stage reads it."""
    if config.stage in READS_PAIRS:
        check_data_kind(project, config)
    reader = STAGE_DATA_READERS.get(config.stage, read_data)
    return reader(project, config)


def check_data_kind(project, config: TrainConfig) -> None:
    """Raise TrainConfigError when the data is not what the stage learns from."""
    source = resolve_dataset(project, config)
    what = source.version_label or source.train_path.name
    message = data_kind_problem(config.stage, is_preference_file(source.train_path), what)
    if message:
        field = "dataset_version" if config.dataset_version.strip() else "train_file"
        raise TrainConfigError(field, message)


def data_kind_problem(stage: str, pairs: bool, what: str) -> str:
    """Why `what` (a version label or file name) cannot train `stage`, "" when it can.

    One wording for the run that stops on it and the Train form that marks the choice
    before Start. `pairs`: the data holds preference pairs rather than conversations.
    """
    if stage not in READS_PAIRS or pairs == READS_PAIRS[stage]:
        return ""
    if pairs:
        return (
            f"{what} holds preference pairs (prompt, chosen, rejected); set the stage to dpo "
            f"to learn from them, or choose conversations for {stage}."
        )
    return (
        f"{what} holds conversations; the {stage} stage learns from preference "
        "pairs (prompt, chosen, rejected): choose a preference version or file, or set "
        "the stage to sft."
    )
