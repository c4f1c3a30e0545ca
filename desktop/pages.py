"""The pages of the main window, in the order of the fine-tuning workflow (core/features.py).

A page lives in desktop/<name>/page.py and defines `create_page(context) -> Page`.
Only features whose page module exists are listed (no fake pages), and each is imported
and built the first time it is shown, so the window appears without their imports.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any, Protocol

from core.features import WORKFLOW, Feature
from core.project import Project


class Page(Protocol):
    """What the main window asks of every page (a QWidget built by `create_page(context)`)."""

    def set_project(self, project: Project) -> None:
        """Show `project`; connected to AppContext.project_changed."""

    def can_close(self) -> bool:
        """False when the user chose to keep unsaved work or a running job open.

        A page with documents to save may also define `ask_about_unsaved_work() -> bool`:
        the main window calls it on every page first (Save / Discard / Cancel), so a
        Cancel there stops nothing; can_close then stops the page's work."""

    def receive(self, handoff: Any) -> None:
        """Take what another page handed over on the way here (see core/handoff.py)."""


def available_pages() -> list[Feature]:
    found = []
    for feature in WORKFLOW:
        try:
            present = importlib.util.find_spec(f"desktop.{feature.name}.page") is not None
        except ModuleNotFoundError:
            present = False
        if present:
            found.append(feature)
    return found


def page_names() -> list[str]:
    return [feature.name for feature in available_pages()]


def create_page(name: str, context) -> Page:
    module = importlib.import_module(f"desktop.{name}.page")
    return module.create_page(context)
