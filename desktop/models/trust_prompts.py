"""Adding a model folder the user picked: the two questions asked before anything in it may
run code (its own Python code, pickle weights), worded once for every page that adds one."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget

from core.models.registry import BaseModel, add_local_model, check_model_folder

Confirm = Callable[[str, str], bool]  # (title, question) -> the user said yes

CUSTOM_CODE_QUESTION = (
    "Allow custom code?",
    "This model needs Python code from its own folder (auto_map). Allow it only if you trust "
    "where the folder came from.",
)
PICKLE_QUESTION = (
    "Load pickle weights?",
    "This folder has only .bin (pickle) weights, which can run code when loaded. Load them anyway?",
)


def ask_with_dialog(parent: QWidget) -> Confirm:
    """A Yes/No message box over `parent` (tests pass their own answers instead)."""
    return lambda title, text: (
        QMessageBox.question(parent, title, text) == QMessageBox.StandardButton.Yes
    )


def add_model_folder(project, folder: str, confirm: Confirm) -> BaseModel:
    """Check the folder, ask before custom code or pickle weights, and add it to the
    project. Raises core.models.registry.ModelFolderError saying what is wrong."""
    check = check_model_folder(folder)
    trust = check.needs_remote_code and confirm(*CUSTOM_CODE_QUESTION)
    pickle_ok = check.pickle_only and confirm(*PICKLE_QUESTION)
    return add_local_model(project, folder, trust_remote_code=trust, allow_pickle=pickle_ok)
