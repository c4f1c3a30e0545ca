"""The app started on a bad --project (a typo, a file, a folder that is no project): a real
message box over the demo names the folder and what is wrong, and its buttons are the ways
out (open another project, make a new one, keep the demo). Real widgets, clicked."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from desktop.app import start_window

OPEN_ANOTHER, NEW_PROJECT, KEEP_DEMO = "Open Another Project…", "New Project…", "Keep the Demo"


def start(qtbot, project_arg: str):
    window, box = start_window(project_arg)
    qtbot.addWidget(window)
    assert box is not None
    qtbot.addWidget(box)
    qtbot.waitUntil(box.isVisible)
    return window, box


def button(box: QMessageBox, text: str):
    (found,) = [b for b in box.buttons() if b.text() == text]
    return found


@pytest.mark.parametrize("kind", ["typo", "file", "plain folder"])
def test_a_bad_project_argument_shows_a_dialog_with_the_ways_out(qtbot, tmp_path, kind):
    bad = tmp_path / "my-projetc"
    if kind == "file":
        bad.write_text("notes")
    elif kind == "plain folder":
        bad.mkdir()
    window, box = start(qtbot, str(bad))
    assert window.context.project.name == "Demo project"
    assert str(bad) in box.text() and "demo project is open" in box.text()
    assert {b.text() for b in box.buttons()} >= {OPEN_ANOTHER, NEW_PROJECT, KEEP_DEMO}
    status = window.statusBar().currentMessage()
    assert str(bad) in status and len(status) < len(str(bad)) + 80  # a line that fits
    assert not bad.is_dir() or not any(bad.iterdir())  # nothing created in it
    button(box, KEEP_DEMO).click()
    qtbot.waitUntil(lambda: not box.isVisible())


def test_open_another_project_from_the_dialog_opens_it(qtbot, tmp_path, monkeypatch):
    from core.project import create_project

    good = create_project(tmp_path / "real", name="The real one")
    good.close()
    # The native folder picker is the one thing not driven here: it answers the folder.
    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(good.folder)
    )
    window, box = start(qtbot, str(tmp_path / "typo"))
    button(box, OPEN_ANOTHER).click()
    qtbot.waitUntil(lambda: window.context.project.name == "The real one")
    assert Path(window.context.project.folder) == good.folder
    assert not box.isVisible()


def test_new_project_from_the_dialog_opens_the_new_project_dialog(qtbot, tmp_path):
    from desktop.project.new_project_dialog import NewProjectDialog

    window, box = start(qtbot, str(tmp_path / "typo"))
    button(box, NEW_PROJECT).click()
    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.findChildren(NewProjectDialog)))
    for dialog in window.findChildren(NewProjectDialog):
        dialog.reject()
