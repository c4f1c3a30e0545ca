"""Small things of the walk: the Edit-answer dialog wraps long lines, and the Train page's
Base model list shows long names whole."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QTextOption

from core.hardware import HardwareInfo
from desktop.chat.edit_answer_dialog import EditAnswerDialog
from desktop.context import AppContext
from desktop.training.page import TrainingPage

LONG = '{"category": "billing", "priority": "high", "reply": "' + "word " * 80 + '"}'


def test_the_edit_answer_dialog_wraps_a_long_line(qtbot):
    dialog = EditAnswerDialog(None, "The answer you want from base (turn 1):", LONG)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    editor = dialog.editor
    assert editor.wordWrapMode() != QTextOption.WrapMode.NoWrap
    assert editor.horizontalScrollBar().maximum() == 0  # nothing runs off to the right
    assert editor.document().documentLayout().documentSize().height() > 3  # several lines
    assert dialog.text() == LONG


@pytest.fixture
def page(qtbot, project):
    page = TrainingPage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()
    return page


def test_long_base_model_names_are_shown_whole(qtbot, page):
    name = "HuggingFaceTB/SmolLM2-1.7B-Instruct-with-a-long-fine-tune-name (Hugging Face cache)"
    page.form.set_base_models([("tiny", "/m/tiny"), (name, "/m/long")])
    combo = page.form.editors["base_model"].editor
    assert combo.view().minimumWidth() >= combo.fontMetrics().horizontalAdvance(name)
    page.form.editors["base_model"].set("/m/long")
    assert combo.lineEdit().cursorPosition() == 0  # the box shows the name's start
