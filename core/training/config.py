"""Moved to core.recipe (the one settings object); this name stays for old imports."""

from core.recipe.config import (  # noqa: F401
    CONFIG_VERSION,
    CPU_PRESET,
    PRESETS,
    Preset,
    TrainConfig,
    TrainConfigError,
    apply_preset,
    config_fields,
    config_from_dict,
    config_to_yaml,
    default_config,
    field_help,
    load_config,
    save_config,
)
from core.recipe.vocabularies import (  # noqa: F401
    ALL_LINEAR_TARGETS,
    DEVICES,
    FINAL_MODEL,
    LORA_BIASES,
    LOSS_ON,
    MAX_SEQ_LENGTH,
    OPTIMIZERS,
    PRECISIONS,
    PROJECTION_MODULES,
    QUANT_TYPES,
    SCHEDULERS,
)
