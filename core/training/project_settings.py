"""The Train settings kept per project, in its database: the Train page saves them on every
change, and `finetune-studio train --project DIR` (no CONFIG) trains with them, so the app
and the command line start from the same recipe.
"""

from __future__ import annotations

import yaml

from core.project.events import SETTINGS_CHANGED, announce
from core.recipe.config import TrainConfig, TrainConfigError, config_from_dict, config_to_yaml

SETTINGS_META_KEY = "train_settings"
SETTINGS_NAME = "train"  # the subject of the SETTINGS_CHANGED event
SOURCE = "the project's saved Train settings"


def load_train_settings(project) -> TrainConfig | None:
    """The project's saved Train settings, or None when none were saved yet.

    Raises TrainConfigError when they cannot be used (a field this version does not know,
    a value out of range), naming the field."""
    saved = project.get_meta(SETTINGS_META_KEY)
    if not saved:
        return None
    try:
        data = yaml.safe_load(saved) or {}
    except yaml.YAMLError as error:
        raise TrainConfigError("settings", f"{SOURCE} are not valid YAML ({error})") from None
    if not isinstance(data, dict):
        raise TrainConfigError("settings", f"{SOURCE} are not a mapping of field: value")
    return config_from_dict(data, SOURCE)


def save_train_settings(project, config: TrainConfig) -> bool:
    """Keep `config` as the project's Train settings (atomic in SQLite); True if it changed."""
    text = config_to_yaml(config)
    if project.get_meta(SETTINGS_META_KEY) == text:
        return False
    project.set_meta(SETTINGS_META_KEY, text)
    announce(project, SETTINGS_CHANGED, SETTINGS_NAME)
    return True
