"""The Train form's settings, kept per project: restored when a project opens, saved once
typing rests (only valid settings; atomic in the project's database, where
`finetune-studio train --project DIR` finds them too)."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from core.dataset.versions import list_versions
from core.recipe.config import TrainConfigError, default_config
from core.training.form_choices import with_default_data
from core.training.project_settings import load_train_settings, save_train_settings
from desktop.context import AppContext
from desktop.training.config_form import ConfigForm

REST_MS = 200  # an edit is saved (and estimated) once the typing has rested this long


class KeptSettings(QObject):
    restored = Signal(object)  # the TrainConfig a project opened with
    rested = Signal()  # an edit was saved, or was invalid and was not

    def __init__(self, form: ConfigForm, context: AppContext, parent: QObject | None = None):
        super().__init__(parent)
        self.form, self.context = form, context
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REST_MS)
        self._timer.timeout.connect(self.save)
        self._timer.timeout.connect(self.rested)
        form.changed.connect(self._timer.start)

    def restore(self) -> None:
        """The project's last Train settings; a new project starts from this machine's
        defaults (the CPU preset without a CUDA GPU). Settings naming no data get the
        project's newest version their stage learns from; `restored` carries them as saved,
        so the plan takes that version as new data and applies its defaults."""
        hardware = self.context.hardware
        config = default_config(bool(hardware is not None and hardware.has_cuda))
        note = ""
        try:
            config = load_train_settings(self.context.project) or config
        except TrainConfigError as error:
            note = f"The saved Train settings could not be used ({error}); defaults shown."
        project = self.context.project
        versions = list_versions(project, kind=None) if project is not None else []
        self.form.set_config(with_default_data(config, versions))
        self._timer.stop()  # restoring is not an edit: nothing to save back
        self.restored.emit(config)
        if note:
            self.context.show_status(note, 10_000)

    def save(self) -> bool:
        """Keep the form's settings in the project; False when they are not valid."""
        config = self.form.config()
        if self.context.project is None or config is None:
            return False
        save_train_settings(self.context.project, config)
        return True
