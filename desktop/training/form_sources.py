"""What the Train form offers to choose from: the base models on this machine and the
project's dataset versions, listed again when one is added (a model picked or downloaded
in the model picker, a version saved on the Dataset page)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from core.dataset.versions import PREFERENCE_KIND, DatasetVersion, list_versions
from core.models.registry import list_base_models
from core.recipe.config import TrainConfig
from core.training.form_choices import (
    model_choice_text,
    newest_version_for,
    version_after_stage_change,
    version_choice_text,
)
from core.training.stage_data import data_kind_problem
from desktop.models.picker import attach_model_picker
from desktop.training.config_form import ConfigForm


class FormSources(QObject):
    """Fills the form's base model and dataset version lists from the project."""

    changed = Signal()  # the lists were filled again: the estimate may read other facts

    def __init__(
        self, form: ConfigForm, project: Callable[[], object], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.form, self._project = form, project
        self._versions: dict[str, DatasetVersion] = {}
        self._holds_pairs: dict[str, bool] = {}  # version id -> preference pairs (read once)
        self._model_paths: dict[str, Path | None] = {}
        # The picker (desktop/models): every model on this machine, and Hub downloads.
        attach_model_picker(form.editors["base_model"].editor, project, self._model_picked)
        form.check_values = self.data_problems
        self._stage = str(form.values()["stage"])  # the stage the chosen version was for
        form.changed.connect(self._follow_stage)

    def refresh(self, *_args) -> None:
        models = list_base_models(self._project(), hub_cache=True)
        self._model_paths = {model.name: model.path for model in models}
        self.form.set_base_models([(model_choice_text(m), m.name) for m in models])
        self.refresh_versions()

    def refresh_versions(self, *_args) -> None:
        """Offer the project's dataset versions (a version just saved among them); a form
        with no data chosen yet takes the newest one its stage learns from."""
        versions = list_versions(self._project(), kind=None)  # chat and preference data
        self._versions = {str(v.id): v for v in versions}
        self._holds_pairs = {str(v.id): v.kind == PREFERENCE_KIND for v in versions}
        self.form.set_dataset_versions(
            [(version_choice_text(v), str(v.id)) for v in reversed(versions)],
            "none: use the training file below" if versions else "none saved yet (Dataset page)",
        )
        values = self.form.values()
        if not str(values["dataset_version"]).strip() and not str(values["train_file"]).strip():
            newest = newest_version_for(versions, str(values["stage"]))
            if newest is not None:
                self.form.set_values({"dataset_version": str(newest.id)})
        self.changed.emit()

    def _follow_stage(self) -> None:
        """The stage changed (SFT <-> DPO): a chosen version of the other kind gives way to
        the project's newest of the kind the new stage learns from; with none it stays,
        marked at its field."""
        values = self.form.values()
        stage = str(values["stage"])
        if stage == self._stage:
            return
        self._stage = stage
        chosen = str(values["dataset_version"]).strip()
        fitting = version_after_stage_change(self._versions.values(), stage, chosen)
        if fitting is not None:
            self.form.set_values({"dataset_version": str(fitting.id)})

    def data_problems(self, values: dict) -> dict[str, str]:
        """The chosen version's kind against the stage: a DPO run on conversations (or SFT
        on preference pairs) is marked at the field before Start, as the run would stop."""
        chosen = str(values.get("dataset_version", "")).strip()
        version = self._versions.get(chosen)
        if version is None:
            return {}
        stage = str(values.get("stage", ""))
        message = data_kind_problem(stage, self._holds_pairs[chosen], version.label)
        return {"dataset_version": message} if message else {}

    def version(self, config: TrainConfig | None) -> DatasetVersion | None:
        """The dataset version `config` trains on, if it names one of the project's."""
        return self._versions.get(config.dataset_version.strip()) if config else None

    def model_path(self, config: TrainConfig | None) -> Path | None:
        """The folder of `config`'s base model, where this machine has one."""
        return self._model_paths.get(config.base_model) if config else None

    def _model_picked(self, model) -> None:
        self.refresh()  # a model just downloaded joins the list
        self.form.editors["base_model"].set(model.name)
