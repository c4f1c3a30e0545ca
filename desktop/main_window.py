"""The main window: workflow navigation on the left, the current page on the right."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from core import __version__
from core.app_dirs import default_projects_dir
from core.features import Feature
from core.project.opening import CannotOpenProject
from core.project.opening import open_project_folder as open_existing_project
from core.project.recent import recent_projects, remember_project
from desktop.context import AppContext
from desktop.pages import Page, available_pages, create_page
from desktop.project.new_project_dialog import NewProjectDialog
from desktop.settings import app_settings
from desktop.theme import ACCENT


class MainWindow(QMainWindow):
    def __init__(
        self, context: AppContext, *, first_page: str | None = None, remember: bool = True
    ) -> None:
        """`first_page` opens on that page (else the one open at the last close);
        `remember=False` (the screenshot command) neither reads nor writes the saved window
        size and page, so a render does not depend on, or change, the user's last session."""
        super().__init__()
        self.context = context
        self.remember = remember
        self.setWindowTitle("FineTune Studio")
        self.setMinimumSize(QSize(960, 620))
        self._specs: list[Feature] = available_pages()
        self._pages: dict[str, Page] = {}

        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setFixedWidth(170)
        self.nav.setSpacing(2)
        self.nav.setStyleSheet(
            "QListWidget#navigation { border: none; outline: 0; font-size: 14px; padding-top: 8px; }"
            "QListWidget#navigation::item { padding: 9px 14px; border-radius: 6px; }"
            f"QListWidget#navigation::item:selected {{ background: {ACCENT}; color: white; }}"
        )
        for number, spec in enumerate(self._specs, start=1):
            item = QListWidgetItem(spec.title)
            shortcut = f" (Ctrl+{number})" if number <= 9 else ""
            item.setToolTip(spec.tooltip + shortcut)
            item.setData(Qt.ItemDataRole.UserRole, spec.name)
            self.nav.addItem(item)
        self.stack = QStackedWidget()
        for _spec in self._specs:
            self.stack.addWidget(QWidget())  # replaced by the real page when first shown
        self.nav.currentRowChanged.connect(self._show_row)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self._build_menus()
        self._build_status_bar()
        context.project_changed.connect(self._on_project_changed)
        context.navigate_requested.connect(self._on_navigate)
        context.status_message.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        self._on_project_changed(context.project)
        self._restore_settings(first_page)

    # Pages -----------------------------------------------------------------
    def page(self, name: str) -> Page:
        """The page widget, built on first use."""
        if name not in self._pages:
            row = self._row_of(name)
            widget = create_page(name, self.context)
            placeholder = self.stack.widget(row)
            self.stack.insertWidget(row, widget)
            self.stack.removeWidget(placeholder)
            placeholder.deleteLater()
            self._pages[name] = widget
        return self._pages[name]

    def _row_of(self, name: str) -> int:
        for row, spec in enumerate(self._specs):
            if spec.name == name:
                return row
        raise KeyError(f"No page named {name!r}; pages: {[s.name for s in self._specs]}")

    def show_page(self, name: str) -> Page:
        row = self._row_of(name)
        self.nav.setCurrentRow(row)
        return self.page(name)

    def _show_row(self, row: int) -> None:
        if row < 0:
            return
        widget = self.page(self._specs[row].name)
        self.stack.setCurrentWidget(widget)

    def _on_navigate(self, name: str, handoff) -> None:
        page = self.show_page(name)
        if handoff is not None:
            page.receive(handoff)

    # Menus -----------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        new_action = QAction("&New Project…", self, shortcut=QKeySequence.StandardKey.New)
        new_action.triggered.connect(self.new_project_dialog)
        open_action = QAction("&Open Project…", self, shortcut=QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self.open_project_dialog)
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(new_action)
        file_menu.addAction(open_action)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)

        go_menu = self.menuBar().addMenu("&Go")
        for number, spec in enumerate(self._specs, start=1):
            action = QAction(spec.title, self)
            if number <= 9:
                action.setShortcut(QKeySequence(f"Ctrl+{number}"))
            action.triggered.connect(lambda _=False, name=spec.name: self.show_page(name))
            go_menu.addAction(action)

        help_menu = self.menuBar().addMenu("&Help")
        about_action = QAction("&About FineTune Studio", self)
        about_action.triggered.connect(self.show_about)
        help_menu.addAction(about_action)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        folders = recent_projects()
        if not folders:
            empty = self.recent_menu.addAction("No recent projects")
            empty.setEnabled(False)
        for folder in folders:
            action = self.recent_menu.addAction(str(folder))
            action.triggered.connect(lambda _=False, f=folder: self.open_project_folder(f))

    def new_project_dialog(self) -> NewProjectDialog:
        """Ask a name and a location (window-modal); the new project opens on Create."""
        dialog = NewProjectDialog(self, default_projects_dir())
        dialog.accepted.connect(lambda: self._switch_to(dialog.project))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def open_project_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Open a project folder", str(default_projects_dir())
        )
        if folder:
            self.open_project_folder(Path(folder))

    def open_project_folder(self, folder: Path) -> bool:
        try:
            project = open_existing_project(folder)
        except CannotOpenProject as error:
            QMessageBox.warning(
                self,
                "Could not open the project",
                f"Could not open {error.folder}: {error.reason}\n\n"
                f"{self.context.project.name} stays open.",
            )
            return False
        self._switch_to(project)
        return True

    def _switch_to(self, project) -> None:
        remember_project(project.folder)
        app_settings().setValue("last_project", str(project.folder))
        self.context.set_project(project)

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About FineTune Studio",
            f"<h3>FineTune Studio {__version__}</h3>"
            "<p>From “my model does not behave the way I need” to a fine-tuned model "
            "that is measurably better, on your own GPU.</p>"
            "<p>Built on transformers, PEFT, TRL and bitsandbytes.</p>",
        )

    # Status bar ------------------------------------------------------------
    def _build_status_bar(self) -> None:
        self.hardware_label = QLabel(self.context.hardware.summary())
        self.hardware_label.setObjectName("hardwareLabel")
        self.hardware_label.setToolTip("Detected hardware (details: Project page or `doctor`)")
        self.project_label = QLabel()
        self.project_label.setObjectName("projectLabel")
        bar = self.statusBar()
        bar.addPermanentWidget(self.project_label)
        bar.addPermanentWidget(self.hardware_label)

    def _on_project_changed(self, project) -> None:
        self.project_label.setText(f"Project: {project.name}")
        self.project_label.setToolTip(str(project.folder))
        self.setWindowTitle(f"{project.name} — FineTune Studio")

    # Settings and closing ----------------------------------------------------
    def _restore_settings(self, first_page: str | None) -> None:
        settings = app_settings() if self.remember else None
        geometry = settings.value("window/geometry") if settings is not None else None
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 780)
        # Only the page shown is built: building the last session's page first let its
        # status-bar messages into a screenshot of another page.
        last = first_page or (str(settings.value("window/page", "")) if settings else "")
        names = [spec.name for spec in self._specs]
        self.nav.setCurrentRow(names.index(last) if last in names else 0)

    def closeEvent(self, event: QCloseEvent) -> None:
        # Questions about unsaved work first: a Cancel must not have stopped anything yet.
        for page in self._pages.values():
            confirm = getattr(page, "ask_about_unsaved_work", None)
            if confirm is not None and not confirm():
                event.ignore()
                return
        for page in self._pages.values():
            if not page.can_close():
                event.ignore()
                return
        if self.remember:
            settings = app_settings()
            settings.setValue("window/geometry", self.saveGeometry())
            row = self.nav.currentRow()
            if row >= 0:
                settings.setValue("window/page", self._specs[row].name)
        super().closeEvent(event)
