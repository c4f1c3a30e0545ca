"""Start the GUI: the application, the theme, the project to open, and the main window."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from core.hardware import detect_hardware
from core.project import NewerSchemaError, NotAProjectError, Project, open_project
from core.project.demo import ensure_demo_project
from core.project.recent import remember_project
from desktop.context import AppContext
from desktop.main_window import MainWindow
from desktop.settings import app_settings
from desktop.theme import apply_theme


def application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("FineTune Studio")
    app.setOrganizationName("FineTuneStudio")
    apply_theme(app)
    return app


def _startup_project(requested: str | None) -> tuple[Project, str | None]:
    """The requested project, else the last one, else the demo (made on first start)."""
    problem = None
    candidates = [requested] if requested else [app_settings().value("last_project")]
    for folder in candidates:
        if not folder:
            continue
        try:
            return open_project(Path(folder)), None
        except (NotAProjectError, NewerSchemaError, OSError) as error:
            problem = str(error)
    return ensure_demo_project(), problem


def build_main_window(project_dir: str | None = None) -> MainWindow:
    application()
    project, problem = _startup_project(project_dir)
    remember_project(project.folder)
    # NVML only: asking torch would add seconds to start-up; `doctor` asks both.
    context = AppContext(project, detect_hardware(use_torch=False))
    window = MainWindow(context)
    if problem:
        window.statusBar().showMessage(f"Opened the demo project instead: {problem}", 15000)
        window.startup_problem = problem
    return window


def run_gui(project_dir: str | None = None) -> int:
    app = application()
    window = build_main_window(project_dir)
    window.show()
    problem = getattr(window, "startup_problem", None)
    if problem and project_dir:
        QMessageBox.warning(window, "Could not open the project", problem)
    return app.exec()
