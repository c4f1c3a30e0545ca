"""File > New Project: a name and a location; the project's folder is created for it.

The folder is `location/name`, shown live under the fields. Create stays disabled and the
reason is shown in one line until the pair is valid (core/project/new_folder.py decides).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.project import Project, create_project
from core.project.new_folder import NewProjectError, new_project_folder
from desktop.theme import BAD, status_style


class NewProjectDialog(QDialog):
    """Collects a name and a location, then creates the project (self.project)."""

    def __init__(self, parent: QWidget | None, location: Path) -> None:
        super().__init__(parent)
        self.setObjectName("newProjectDialog")
        self.setWindowTitle("New Project")
        self.setMinimumWidth(520)
        self.project: Project | None = None

        intro = QLabel(
            "A project keeps its datasets, training runs and evaluations together in one "
            "folder. The folder is created for you."
        )
        intro.setWordWrap(True)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. Support ticket router")
        self.name_edit.setToolTip("The project's name; its folder gets the same name")
        self.location_edit = QLineEdit(str(location))
        self.location_edit.setToolTip("The folder the new project's folder goes into")
        browse = QPushButton("Browse…")
        browse.setToolTip("Choose an existing folder to hold the new project's folder")
        browse.clicked.connect(self._browse)
        location_row = QHBoxLayout()
        location_row.addWidget(self.location_edit, 1)
        location_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("&Name", self.name_edit)
        location_label = QLabel("&Location")
        location_label.setBuddy(self.location_edit)
        form.addRow(location_label, location_row)
        self.folder_label = QLabel()
        self.folder_label.setWordWrap(True)
        self.folder_label.setObjectName("newProjectFolder")
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setObjectName("newProjectError")
        self.error_label.setStyleSheet(status_style(BAD))
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.create_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.create_button.setText("&Create")
        self.buttons.accepted.connect(self._create)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.folder_label)
        layout.addWidget(self.error_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.name_edit.textChanged.connect(self._check)
        self.location_edit.textChanged.connect(self._check)
        self._check()
        self.name_edit.setFocus()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Where the new project's folder goes", self.location_edit.text()
        )
        if folder:
            self.location_edit.setText(folder)

    def _folder(self) -> Path:
        return new_project_folder(self.location_edit.text(), self.name_edit.text())

    def _check(self) -> None:
        try:
            folder = self._folder()
        except NewProjectError as error:
            # An empty name is the starting state, not a mistake: say what to do, not in red.
            typed = bool(self.name_edit.text().strip())
            self.folder_label.setText("" if typed else str(error))
            self.error_label.setText(str(error) if typed else "")
            self.create_button.setEnabled(False)
            return
        self.folder_label.setText(f"The project's folder will be {folder}")
        self.error_label.setText("")
        self.create_button.setEnabled(True)

    def _create(self) -> None:
        try:
            folder = self._folder()
            self.project = create_project(folder, name=self.name_edit.text().strip())
        except (NewProjectError, OSError) as error:
            self.error_label.setText(f"Could not create the project: {error}")
            return
        self.accept()
