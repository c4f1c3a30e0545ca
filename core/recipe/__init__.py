"""The training recipe: TrainConfig, the one settings object that the Train and Estimate
forms, the trainer, the estimator and the CLI all read. It sits low in the house: it
imports nothing from training, estimate or anything above them.
"""

from core.recipe.config import TrainConfig, TrainConfigError

__all__ = ["TrainConfig", "TrainConfigError"]
