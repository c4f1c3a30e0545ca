"""What every page shares: the open project, the detected hardware, and a way to move between pages."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from core.hardware import HardwareInfo
from core.project import Project
from desktop.project_events import ProjectEventsBridge


class AppContext(QObject):
    """Pages read `project` and listen to `project_changed`; they never hold a stale project.

    `events` re-emits what changed inside the open project (a run finished, a dataset
    version saved, ...) as signals, so a page shows it at once."""

    project_changed = Signal(object)  # Project
    # (page name, hand-off from core/handoff.py or None): lets Decide hand its answers to
    # Estimate, Evaluate open a dataset draft, and so on, without pages importing each other.
    navigate_requested = Signal(str, object)
    status_message = Signal(str, int)  # text, timeout in ms

    def __init__(self, project: Project, hardware: HardwareInfo) -> None:
        super().__init__()
        self.project = project
        self.hardware = hardware
        self.events = ProjectEventsBridge(project, self)

    def set_project(self, project: Project) -> None:
        self.project = project
        self.events.set_project(project)
        self.project_changed.emit(project)

    def navigate(self, page: str, handoff: Any = None) -> None:
        self.navigate_requested.emit(page, handoff)

    def show_status(self, text: str, timeout_ms: int = 5000) -> None:
        self.status_message.emit(text, timeout_ms)
