"""Start the GUI: the application, the theme, the project to open, and the main window."""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from core.hardware import detect_hardware
from core.project import Project
from core.project.demo import ensure_demo_project
from core.project.opening import CannotOpenProject, open_project_folder
from core.project.recent import remember_project
from desktop.context import AppContext
from desktop.main_window import MainWindow
from desktop.settings import app_settings
from desktop.theme import apply_theme
from desktop.wheel_guard import install_wheel_guard


def application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("FineTune Studio")
    app.setOrganizationName("FineTuneStudio")
    apply_theme(app)
    install_wheel_guard(app)  # the wheel scrolls forms instead of changing their settings
    return app


def _startup_project(requested: str | None) -> tuple[Project, str | None]:
    """The requested project, else the last one, else the demo (made on first start).

    A project that cannot be opened (damaged, read-only, newer) is left untouched and the
    demo opens instead; the second value says which folder and what is wrong with it.
    """
    folder = requested or app_settings().value("last_project")
    if folder:
        try:
            return open_project_folder(folder), None
        except CannotOpenProject as error:
            which = "the project" if requested else "the last project"
            return ensure_demo_project(), (
                f"Could not open {which} {error.folder}: {error.reason}\n\n"
                "The demo project is open instead."
            )
    return ensure_demo_project(), None


def build_main_window(
    project_dir: str | None = None, *, first_page: str | None = None, remember: bool = True
) -> MainWindow:
    """`remember=False` (the screenshot command) leaves the recent-projects list and the
    saved window size and page as they were, and does not read the latter either."""
    application()
    project, problem = _startup_project(project_dir)
    if remember:
        remember_project(project.folder)
    # NVML only: asking torch would add seconds to start-up; `doctor` asks both.
    context = AppContext(project, detect_hardware(use_torch=False))
    window = MainWindow(context, first_page=first_page, remember=remember)
    window.startup_problem = problem
    if problem:
        # The whole story is in the message box; the status bar keeps a line that fits.
        window.statusBar().showMessage(problem.split(":", 1)[0] + " (the demo is open).", 30000)
    return window


OPEN_ANOTHER = "Open Another Project…"
NEW_PROJECT = "New Project…"
KEEP_DEMO = "Keep the Demo"


def start_window(project_dir: str | None = None) -> tuple[MainWindow, QMessageBox | None]:
    """Build and show the main window; a project that could not be opened is explained in a
    message box over it (not blocking: the window is usable behind it), with the ways out
    as buttons: open another project, make a new one, or go on with the demo."""
    window = build_main_window(project_dir)
    window.show()
    if not window.startup_problem:
        return window, None
    box = QMessageBox(QMessageBox.Icon.Warning, "Could not open the project", "", parent=window)
    box.setText(window.startup_problem)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # copy the path
    open_button = box.addButton(OPEN_ANOTHER, QMessageBox.ButtonRole.ActionRole)
    open_button.setToolTip("Choose a project folder (File > Open Project…)")
    new_button = box.addButton(NEW_PROJECT, QMessageBox.ButtonRole.ActionRole)
    new_button.setToolTip("Create a project with a name and a location (File > New Project…)")
    keep = box.addButton(KEEP_DEMO, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)

    def chosen(button) -> None:
        if button is open_button:
            window.open_project_dialog()
        elif button is new_button:
            window.new_project_dialog()

    box.buttonClicked.connect(chosen)
    box.open()
    return window, box


def run_gui(project_dir: str | None = None) -> int:
    app = application()
    _window, _box = start_window(project_dir)  # held while the app runs
    return app.exec()
