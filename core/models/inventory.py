"""Every model on this machine the picker offers, with the facts it shows: the bundled
model, the project's folders and the Hugging Face cache. Local files only, no network.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from core.models.model_facts import ModelFacts, model_facts
from core.models.registry import BaseModel, list_base_models

# The converted bundled folder has no README; SmolLM2's Hub card says Apache-2.0.
BUNDLED_LICENSE = "apache-2.0"
SOURCE_TEXT = {"bundled": "bundled", "local": "project folder", "hub": "Hugging Face cache"}


@dataclass(frozen=True)
class ModelEntry:
    model: BaseModel
    facts: ModelFacts | None  # None while the bundled model is not converted yet

    @property
    def source_text(self) -> str:
        return SOURCE_TEXT.get(self.model.source, self.model.source)

    @property
    def missing(self) -> bool:
        """A project folder that was moved or deleted since it was added."""
        return self.model.path is not None and not self.model.path.is_dir()


def available_models(project=None) -> list[ModelEntry]:
    entries = []
    for model in list_base_models(project, hub_cache=True):
        if model.path is None or not model.path.is_dir():
            entries.append(ModelEntry(model, None))
        else:
            facts = model_facts(model.path)
            if model.source == "bundled" and not facts.license:
                facts = replace(facts, license=BUNDLED_LICENSE)
            entries.append(ModelEntry(model, facts))
    return entries
