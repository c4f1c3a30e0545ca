"""How the Train form names the project's base models and dataset versions in its lists."""

from __future__ import annotations

from core.dataset.versions import PREFERENCE_KIND, DatasetVersion
from core.models.registry import BaseModel


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
