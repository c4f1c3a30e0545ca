"""The stage dispatch point for data: what a run's stage reads from its dataset.

SFT reads conversations (core.training.prepare.read_data); DPO reads preference pairs.
Each reader returns an object with the PreparedData surface run_setup uses: `source`
(a DatasetSource), `notes`, `train`, `valid` and `stats()`.
"""

from __future__ import annotations

from core.recipe.config import TrainConfig
from core.training.dpo_data import read_preference_data
from core.training.prepare import read_data

# stage -> reader; stages not listed read conversations.
STAGE_DATA_READERS = {"dpo": read_preference_data}


def read_stage_data(project, config: TrainConfig):
    """The run's data as its stage reads it."""
    reader = STAGE_DATA_READERS.get(config.stage, read_data)
    return reader(project, config)
