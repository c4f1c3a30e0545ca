"""How the Train form names the project's base models and dataset versions in its lists,
and which version it offers first."""

from __future__ import annotations

from collections.abc import Iterable

from core.dataset.versions import PREFERENCE_KIND, DatasetVersion
from core.models.registry import BaseModel
from core.recipe.config import TrainConfig
from core.training.stage_data import READS_PAIRS


def model_choice_text(model: BaseModel) -> str:
    """ "SmolLM2-135M-Instruct (bundled)", "... (Hugging Face cache)" or "name (folder)"."""
    if model.source == "bundled":
        return f"{model.name} (bundled)"
    if model.source == "hub":
        return f"{model.name} (Hugging Face cache)"
    return f"{model.name} ({model.path})"


def version_choice_text(version: DatasetVersion) -> str:
    """ "tickets v2 · 900 train, 100 validation", marked when it holds DPO preference pairs."""
    text = (
        f"{version.dataset} {version.label} · {version.n_train:,} train, "
        f"{version.n_valid:,} validation"
    )
    return text + (" preference pairs (DPO)" if version.kind == PREFERENCE_KIND else "")


def newest_version_for(versions: Iterable[DatasetVersion], stage: str) -> DatasetVersion | None:
    """The newest version of the kind `stage` learns from: preference pairs for DPO,
    conversations for SFT and GRPO (a stage with no kind of its own takes conversations)."""
    pairs = READS_PAIRS.get(stage, False)
    fitting = [v for v in versions if (v.kind == PREFERENCE_KIND) == pairs]
    return max(fitting, key=lambda v: v.id, default=None)


def version_after_stage_change(
    versions: Iterable[DatasetVersion], stage: str, chosen: str
) -> DatasetVersion | None:
    """The version to take instead of `chosen` once the stage changed to `stage`: the
    newest of the kind the stage learns from, when `chosen` is a version of the other kind
    and the project has one; None to keep `chosen` (it fits, names no version of the
    project, or none fits: the form then marks it)."""
    versions = list(versions)
    current = next((v for v in versions if str(v.id) == chosen), None)
    if current is None or (current.kind == PREFERENCE_KIND) == READS_PAIRS.get(stage, False):
        return None
    return newest_version_for(versions, stage)


def with_default_data(config: TrainConfig, versions: Iterable[DatasetVersion]) -> TrainConfig:
    """`config` as it is where it names data (a version or a training file); else with the
    project's newest version its stage can learn from, so a new project's form starts on
    its data rather than on "none" and an estimate of made-up examples."""
    if config.dataset_version.strip() or config.train_file.strip():
        return config
    version = newest_version_for(versions, config.stage)
    return config.replace(dataset_version=str(version.id)) if version else config
