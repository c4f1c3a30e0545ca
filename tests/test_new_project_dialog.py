"""File > New Project: a name field and a location; the project's folder is created."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QDialog, QFileDialog

from core.project import open_project
from core.project.new_folder import NewProjectError, new_project_folder
from desktop.app import build_main_window


@pytest.fixture
def window(qtbot, monkeypatch):
    # The old File > New asked for an existing folder; a test must never block on it.
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: "")
    win = build_main_window()
    qtbot.addWidget(win)
    win.show()
    return win


def test_new_project_asks_a_name_and_creates_its_folder(window, tmp_path, qtbot):
    window.new_project_dialog()
    dialog = window.findChild(QDialog, "newProjectDialog")
    assert dialog is not None and dialog.isVisible()
    assert not dialog.create_button.isEnabled()  # no name yet
    dialog.location_edit.setText(str(tmp_path))
    qtbot.keyClicks(dialog.name_edit, "Ticket router")
    assert dialog.create_button.isEnabled()
    assert str(tmp_path / "Ticket router") in dialog.folder_label.text()
    with qtbot.waitSignal(window.context.project_changed):
        dialog.create_button.click()
    folder = tmp_path / "Ticket router"
    assert open_project(folder).name == "Ticket router"
    assert window.context.project.folder == folder.resolve()
    assert "Ticket router" in window.project_label.text()


def test_new_project_refuses_a_taken_folder_with_a_clear_line(window, tmp_path, qtbot):
    tmp_path = tmp_path / "projects"
    tmp_path.mkdir()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    dialog = window.new_project_dialog()
    dialog.location_edit.setText(str(tmp_path))
    qtbot.keyClicks(dialog.name_edit, "taken")
    assert not dialog.create_button.isEnabled()
    assert "not empty" in dialog.error_label.text()
    dialog.name_edit.setText("a/b")
    assert "cannot use /" in dialog.error_label.text()
    dialog.name_edit.setText("fresh")
    dialog.location_edit.setText(str(tmp_path / "nowhere"))
    assert "does not exist" in dialog.error_label.text()
    assert not dialog.create_button.isEnabled()
    dialog.reject()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # nothing created


def test_new_project_folder_rules(tmp_path):
    assert new_project_folder(tmp_path, "  Legal drafts ") == (tmp_path / "Legal drafts").resolve()
    (tmp_path / "empty").mkdir()
    assert new_project_folder(tmp_path, "empty") == (tmp_path / "empty").resolve()
    for name, words in (("", "Type a name"), ("..", "cannot use"), ("x:y", "cannot use :")):
        with pytest.raises(NewProjectError, match=words):
            new_project_folder(tmp_path, name)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NewProjectError, match="is a file"):
        new_project_folder(tmp_path, "file")
