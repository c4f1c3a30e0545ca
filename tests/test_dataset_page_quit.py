"""Quitting with unsaved dataset edits asks Save / Discard / Cancel, as editors do."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from core.dataset import edits
from core.dataset.drafts import list_drafts
from core.dataset.model import Dataset
from core.dataset.versions import list_versions, save_version
from desktop.app import build_main_window


@pytest.fixture
def window(qtbot, project):
    save_version(
        project,
        Dataset.from_conversations(
            [
                [
                    {"role": "user", "content": f"Where is order {i}?"},
                    {"role": "assistant", "content": json.dumps({"order": i})},
                ]
                for i in range(6)
            ],
            name="support",
        ),
        note="first",
    )
    win = build_main_window(str(project.folder))
    qtbot.addWidget(win)
    win.show()
    page = win.show_page("dataset")
    page.editor.wait_for_checks()
    return win


def answer_dialogs(answers: list[str], seen: list[str]) -> QTimer:
    """Press the named button of each modal dialog as it appears ('accept' for a QDialog)."""

    def press():
        box = QApplication.activeModalWidget()
        if box is None or not answers:
            return
        seen.append(box.windowTitle())
        answer = answers.pop(0)
        if isinstance(box, QMessageBox):
            # By role, not text: a platform may label Discard "Close without Saving".
            box.button(getattr(QMessageBox.StandardButton, answer)).click()
            return
        assert isinstance(box, QDialog) and answer == "accept"
        box.accept()

    timer = QTimer(interval=20)
    timer.timeout.connect(press)
    timer.start()
    return timer


def edit(window):
    page = window.page("dataset")
    page.editor.push(edits.set_tags(page.editor.dataset, 0, ["urgent"]))
    return page


def test_quit_with_unsaved_edits_and_cancel_keeps_the_window_open(window, project):
    edit(window)
    seen: list[str] = []
    timer = answer_dialogs(["Cancel"], seen)
    assert not window.close()
    timer.stop()
    assert seen == ["Save the dataset?"]
    assert window.isVisible()
    assert window.page("dataset").saving.has_unsaved_changes()  # the edits are still there
    timer = answer_dialogs(["Discard"], seen)  # qtbot's own close at teardown must not ask
    assert window.close()
    timer.stop()


def test_quit_and_discard_throws_the_draft_away(window, project):
    edit(window)
    seen: list[str] = []
    timer = answer_dialogs(["Discard"], seen)
    assert window.close()
    timer.stop()
    assert seen == ["Save the dataset?"]
    assert list_drafts(project) == []  # no recovery banner at the next start
    assert [v.label for v in list_versions(project)] == ["v1"]


def test_quit_and_save_keeps_the_edits_as_a_new_version(window, project):
    edit(window)
    seen: list[str] = []
    timer = answer_dialogs(["Save", "accept"], seen)
    assert window.close()
    timer.stop()
    assert seen[0] == "Save the dataset?" and len(seen) == 2
    versions = list_versions(project)
    assert [v.label for v in versions] == ["v1", "v2"]
    assert versions[-1].load_dataset().examples[0].tags == ("urgent",)
    assert list_drafts(project) == []


def test_quit_without_edits_asks_nothing(window, project):
    seen: list[str] = []
    timer = answer_dialogs(["Cancel"], seen)
    assert window.close()
    timer.stop()
    assert seen == []
