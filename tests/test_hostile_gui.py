"""The GUI under hostile use (issue 11, "GUI defects"): every action through its real signal,
the mouse wheel over forms, a stale Decide recommendation, "Fix all" on a duplicate, and a
damaged last project at start-up. Each test reproduced its defect before the fix."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QDialog, QWidget
from recorded_run import add_recorded_run

from core.runs.records import MetricRecord
from desktop.app import build_main_window
from desktop.settings import app_settings


# --- helpers -------------------------------------------------------------------------------
def record_run(project, run_id: str) -> str:
    """A finished run as core.training records it (config, metrics, row), without training."""
    records = [MetricRecord(step=s, epoch=s / 3, loss=3.0 / s) for s in (1, 2, 3)]
    return add_recorded_run(project, run_id, records=records)


def _close_extra_windows(window: QWidget) -> list[QWidget]:
    """Close every top-level window an action opened (dialogs, exporters); returns them."""
    opened = []
    for widget in QApplication.topLevelWidgets():
        if widget is window or not widget.isVisible():
            continue
        opened.append(widget)
        if isinstance(widget, QDialog):
            widget.reject()
        widget.close()
    return opened


@contextlib.contextmanager
def modal_dialogs_cancelled():
    """While inside, any modal dialog (message box, file chooser) is cancelled as it opens,
    as a user pressing Escape would, so an action's blocking exec() returns."""

    seen: list[str] = []  # the text of each modal dialog, as the user read it

    def cancel_modal() -> None:
        modal = QApplication.activeModalWidget()
        if modal is None:
            return
        seen.append(getattr(modal, "text", modal.windowTitle)())
        if isinstance(modal, QDialog):
            modal.reject()
        else:
            modal.close()

    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(cancel_modal)
    timer.start()
    try:
        yield seen
    finally:
        timer.stop()


# --- 1. every action's slot, through the real signal ----------------------------------------
@pytest.fixture
def window_on_project_with_a_run(qtbot, project):
    record_run(project, "first-run")
    project.close()
    app_settings().setValue("last_project", str(project.folder))
    window = build_main_window()  # as the launcher does: the last project
    qtbot.addWidget(window)
    window.show()
    assert window.context.project.folder == project.folder
    yield window
    for name in list(window._pages):
        wait = getattr(window._pages[name], "wait_for_background", None)
        if callable(wait):
            wait()


def test_export_model_from_the_runs_menu_opens_the_dialog_for_the_selected_run(
    qtbot, window_on_project_with_a_run
):
    window = window_on_project_with_a_run
    page = window.show_page("runs")
    page.runs_view.select_runs(["first-run"])
    action = next(a for a in page.findChildren(QAction) if a.text().startswith("Model: adapter"))
    with qtbot.capture_exceptions() as exceptions:
        action.trigger()  # the real triggered(bool) signal, as the menu sends it
    assert not exceptions, exceptions
    dialogs = [w for w in _close_extra_windows(window) if type(w).__name__ == "ExportDialog"]
    assert [d.run_id for d in dialogs] == ["first-run"]


def test_every_action_of_the_window_and_its_pages_runs_without_an_exception(
    qtbot, window_on_project_with_a_run
):
    window = window_on_project_with_a_run
    for spec in window._specs:  # build every page, so its actions exist
        window.show_page(spec.name)
    window.show_page("runs").runs_view.select_runs(["first-run"])
    quit_action = None
    triggered = []
    for action in window.findChildren(QAction):
        if action.menu() is not None or action.isSeparator() or not action.isEnabled():
            continue
        if type(action.parent()).__name__ == "GraphicsScene":
            continue  # pyqtgraph's own context menu: reachable only by right-clicking a plot
        if action.text() == "&Quit":
            quit_action = action
            continue
        with modal_dialogs_cancelled(), qtbot.capture_exceptions() as exceptions:
            action.trigger()
            qtbot.wait(1)  # let queued slots run inside the capture
        _close_extra_windows(window)
        owner = type(action.parent()).__name__
        assert not exceptions, f"{owner} action {action.text()!r} raised: {exceptions}"
        triggered.append(action.text())
    assert {"&New Project…", "&Open Project…", "&About FineTune Studio"} <= set(triggered)
    assert {"Model: adapter, merged or GGUF…", "Metrics as CSV…"} <= set(triggered)
    assert len(triggered) >= 20
    # Go menu: each entry shows its page.
    go = next(a for a in window.findChildren(QAction) if a.text() == "Runs")
    go.trigger()
    assert window.stack.currentWidget() is window.page("runs")

    with qtbot.capture_exceptions() as exceptions:
        quit_action.trigger()
    assert not exceptions
    assert not window.isVisible()


# --- 4. "Fix all certain ones" on an exact duplicate ---------------------------------------
def _ticket(i: int) -> list[dict]:
    return [
        {"role": "system", "content": "You turn support requests into JSON."},
        {"role": "user", "content": f"Order {i} is late, where is it?"},
        {"role": "assistant", "content": json.dumps({"intent": "late_order", "order": i})},
    ]


def test_fix_all_deletes_an_exact_duplicate_and_undo_brings_it_back(qtbot, project):
    from core.dataset.model import Dataset
    from core.dataset.versions import save_version
    from core.hardware import HardwareInfo
    from desktop.context import AppContext
    from desktop.dataset.page import DatasetPage

    conversations = [_ticket(i) for i in range(6)]
    conversations.insert(4, _ticket(1))  # example 5 is an exact copy of example 2
    save_version(project, Dataset.from_conversations(conversations, name="tickets"), note="v1")
    page = DatasetPage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.resize(1200, 760)
    page.show()
    page.editor.wait_for_checks()
    duplicates = [f for f, _e in page.editor.all_findings() if f.code == "duplicate"]
    assert [f.example for f in duplicates] == [4] and duplicates[0].fixable
    button = page.findings_panel.fix_all_button
    qtbot.waitUntil(button.isEnabled)

    button.click()

    assert len(page.editor.dataset) == 6
    users = [e.messages[1]["content"] for e in page.editor.dataset.examples]
    assert users == [f"Order {i} is late, where is it?" for i in range(6)]  # the first is kept
    assert "1 duplicate" in page.last_message and "Nothing to fix" not in page.last_message
    page.editor.stack.undo()
    assert len(page.editor.dataset) == 7
    assert page.editor.dataset.examples[4].messages[1]["content"] == "Order 1 is late, where is it?"
    page.can_close()


def test_the_duplicate_own_button_deletes_that_copy(qtbot, project):
    from PySide6.QtWidgets import QPushButton

    from core.dataset.model import Dataset
    from core.dataset.versions import save_version
    from core.hardware import HardwareInfo
    from desktop.context import AppContext
    from desktop.dataset.page import DatasetPage

    conversations = [_ticket(i) for i in range(4)] + [_ticket(2)]
    save_version(project, Dataset.from_conversations(conversations, name="tickets"), note="v1")
    page = DatasetPage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.show()
    page.editor.wait_for_checks()
    page.examples_panel.select(4)
    buttons = page.conversation.findings_box.findChildren(QPushButton)
    delete = next(b for b in buttons if b.text() == "Delete this copy")
    assert "Delete the copy" in delete.toolTip()
    delete.click()
    assert len(page.editor.dataset) == 4
    page.can_close()


def test_a_duplicate_finding_that_went_stale_deletes_nothing():
    """Findings may predate an edit: the copy is deleted only if its twin still holds it."""
    from core.dataset.fixes import duplicate_copies
    from core.dataset.model import Dataset

    dataset = Dataset.from_conversations([_ticket(1), _ticket(2), _ticket(1)], name="t")
    assert duplicate_copies(dataset.examples, [2]) == [2]
    edited = dataset.examples[0].replace(messages=_ticket(9))  # the twin changed since
    dataset.examples[0] = edited
    assert duplicate_copies(dataset.examples, [2]) == []
    assert duplicate_copies(dataset.examples, [0]) == []  # never the first of its kind


# --- 5. a damaged last project at start-up ---------------------------------------------------
def _start_on_last_project(qtbot, folder):
    """Start as `finetune-studio` with no argument does: the last project, else the demo."""
    from desktop.app import start_window

    app_settings().setValue("last_project", str(folder))
    window, message_box = start_window(None)
    qtbot.addWidget(window)
    if message_box is not None:
        qtbot.addWidget(message_box)
    return window, message_box


def _files_of(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "content, what",
    [(b"", "empty (0 bytes)"), (b"this is no database\n" * 200, "not an SQLite database")],
    ids=["zero-byte", "garbage"],
)
def test_a_damaged_last_project_opens_the_demo_with_a_message_and_is_left_alone(
    qtbot, tmp_path, content, what
):
    folder = tmp_path / "damaged"
    (folder / "runs" / "run-1").mkdir(parents=True)
    (folder / "runs" / "run-1" / "run.json").write_text('{"run_id": "run-1"}')
    (folder / "project.sqlite").write_bytes(content)
    before = _files_of(folder)

    window, box = _start_on_last_project(qtbot, folder)

    assert window.isVisible()
    assert window.context.project.name == "Demo project"
    assert box is not None and box.isVisible()
    assert str(folder) in box.text() and what in box.text()
    assert f"finetune-studio project repair {folder}" in box.text()  # the way out
    assert "demo project" in box.text().lower()
    assert str(folder) in window.statusBar().currentMessage()
    assert _files_of(folder) == before  # never modified, never deleted
    box.close()


START_ON_LAST_PROJECT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from desktop.settings import app_settings
from desktop.app import start_window
app_settings().setValue("last_project", sys.argv[2])
window, box = start_window(None)
print(json.dumps({"project": window.context.project.name, "box": box and box.text(),
                  "visible": window.isVisible()}))
"""


@pytest.mark.parametrize("closed", [True, False], ids=["closed", "left-open"])
def test_a_read_only_last_project_opens_the_demo_with_a_message(closed):
    """A real read-only folder: the GUI starts in a process that may not write to it (as
    `nobody` when the tests run as root, since root ignores permission bits)."""
    import json
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    from core.project import create_project
    from tests.conftest import REPO_ROOT

    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if as_root and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: no way to be a user who cannot write")
    # Somewhere the other user can reach (pytest's own tmp folders are private to us).
    base = Path(tempfile.mkdtemp(prefix="read-only-project-", dir="/tmp"))
    project = create_project(base / "shared", name="Shared project")
    try:
        if closed:  # no -wal/-shm files left: SQLite itself refuses it
            project.close()
        folder = project.folder
        (folder / "runs" / "run-1").mkdir()
        (folder / "runs" / "run-1" / "run.json").write_text('{"run_id": "run-1"}')
        home = base / "home"
        home.mkdir()
        before = _files_of(folder)
        base.chmod(0o755)
        for path in folder.rglob("*"):
            path.chmod(0o555 if path.is_dir() else 0o444)
        folder.chmod(0o555)
        command = [sys.executable, "-c", START_ON_LAST_PROJECT, str(REPO_ROOT), str(folder)]
        if as_root:
            os.chown(home, 65534, 65534)
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        env = {**os.environ, "FINETUNE_STUDIO_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        shown = json.loads(done.stdout.strip().splitlines()[-1])
        assert shown["visible"] and shown["project"] == "Demo project"
        assert str(folder) in shown["box"]
        assert "read-only" in shown["box"] and "write permission" in shown["box"]
        assert _files_of(folder) == before
    finally:
        project.close()
        for path in [base, *base.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(base)


def test_a_good_last_project_opens_without_a_message(qtbot, project):
    project.close()
    window, box = _start_on_last_project(qtbot, project.folder)
    assert box is None
    assert window.context.project.folder == project.folder


def test_file_open_of_a_damaged_project_explains_and_keeps_the_open_one(qtbot, tmp_path):
    folder = tmp_path / "damaged"
    folder.mkdir()
    (folder / "project.sqlite").write_bytes(b"this is no database\n" * 200)
    window = build_main_window()
    qtbot.addWidget(window)
    window.show()
    with modal_dialogs_cancelled() as dialogs, qtbot.capture_exceptions() as exceptions:
        assert window.open_project_folder(folder) is False
    assert not exceptions
    assert len(dialogs) == 1 and str(folder) in dialogs[0]
    assert "not an SQLite database" in dialogs[0] and "Demo project stays open" in dialogs[0]
    assert window.context.project.name == "Demo project"
    assert (folder / "project.sqlite").read_bytes() == b"this is no database\n" * 200


# --- 3. Decide: the recommendation follows the answers; navigation stays in view -------------
def _decide_page(qtbot, project, size=(1100, 800)):
    from core.hardware import HardwareInfo
    from desktop.context import AppContext
    from desktop.decide.page import DecidePage

    page = DecidePage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.resize(*size)
    page.show()
    qtbot.waitExposed(page)
    return page


def test_decide_never_shows_a_saved_recommendation_that_contradicts_the_answers(qtbot, project):
    from core.decide import Answers, load_decision, save_decision
    from desktop.decide.page import RESULT_STEP

    save_decision(project, Answers(("complex_behaviour",), "measured", "yes", "none", True))
    page = _decide_page(qtbot, project)
    assert "Fine-tune" in page.card.headline.text()

    page.change_button.click()
    page.steps[0].buttons["complex_behaviour"].click()  # untick
    page.steps[0].buttons["format_simple"].click()  # a prompt can fix this one
    page.step_buttons[RESULT_STEP].click()  # straight to the recommendation

    assert page.current_step == RESULT_STEP
    assert "prompt engineering" in page.card.headline.text().lower()
    assert page.decision.answers.problems == ("format_simple",)
    assert load_decision(project).answers.problems == ("format_simple",)  # saved as current
    assert "(current)" in page.history.itemText(page.history.currentIndex())


def test_decide_back_and_next_stay_in_view_and_each_step_starts_at_the_top(qtbot, project):
    page = _decide_page(qtbot, project, size=(960, 420))  # the window's smallest height, less
    scroll = page.findChild(type(page.scroll_area), "decideScroll")
    bar = scroll.verticalScrollBar()
    assert bar.maximum() > 0  # the questions do not fit: the page scrolls
    for button in (page.back_button, page.next_button):
        assert not scroll.isAncestorOf(button)  # outside the scrolled area
        top_left = button.mapTo(page, button.rect().topLeft())
        assert page.rect().contains(top_left) and not button.visibleRegion().isEmpty()

    page.steps[0].buttons["complex_behaviour"].click()
    bar.setValue(bar.maximum())
    page.next_button.click()
    assert page.current_step == 1 and bar.value() == 0
    bar.setValue(bar.maximum())
    page.back_button.click()
    assert page.current_step == 0 and bar.value() == 0

    for step, value in ((0, "format_complex"), (1, "measured"), (2, "yes"), (3, "none")):
        page.steps[step].buttons[value].click()
        page.next_button.click()
    page.steps[4].buttons[True].click()
    bar.setValue(bar.maximum())
    page.next_button.click()  # See recommendation
    assert page.card.isVisible() and bar.value() == 0
    for button in (page.change_button, page.copy_button):  # the card's actions, in view too
        assert not scroll.isAncestorOf(button) and not button.visibleRegion().isEmpty()


# --- 2. the mouse wheel scrolls the page, not the setting under the pointer ------------------
def _wheel(widget: QWidget, notches: int = -1) -> None:
    """A real wheel event (one notch down by default) over the middle of `widget`."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent

    middle = QPointF(widget.rect().center())
    event = QWheelEvent(
        middle,
        QPointF(widget.mapToGlobal(middle.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def _value(control):
    from PySide6.QtWidgets import QComboBox

    return control.currentIndex() if isinstance(control, QComboBox) else control.value()


@pytest.fixture
def tall_form(qtbot):
    """A form taller than its scroll area, with each kind of control the wheel can change."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import (
        QComboBox,
        QDoubleSpinBox,
        QFormLayout,
        QLineEdit,
        QScrollArea,
        QSlider,
        QSpinBox,
    )

    from desktop.app import application

    application()  # as the app starts: the guard is installed on the application
    area = QScrollArea()
    area.setWidgetResizable(True)
    body = QWidget()
    form = QFormLayout(body)
    name = QLineEdit("run-1")  # where the focus is: first in the form, as on the Train page
    form.addRow("Name", name)
    combo = QComboBox()
    combo.addItems(["auto", "cpu", "cuda", "mps"])
    combo.setCurrentIndex(1)
    spin, double, slider = QSpinBox(), QDoubleSpinBox(), QSlider(Qt.Orientation.Horizontal)
    for control in (spin, double, slider):
        control.setRange(0, 100)
        control.setValue(50)
    form.addRow("Device", combo)
    form.addRow("Steps", spin)
    form.addRow("Rate", double)
    form.addRow("Share", slider)
    for i in range(30):
        form.addRow(f"Row {i}", QComboBox())
    area.setWidget(body)
    area.resize(400, 200)
    qtbot.addWidget(area)
    area.show()
    qtbot.waitExposed(area)
    area.activateWindow()
    qtbot.waitUntil(area.isActiveWindow)
    name.setFocus()
    qtbot.waitUntil(name.hasFocus)
    return area, (combo, spin, double, slider)


def test_the_wheel_over_an_unfocused_control_scrolls_the_form(tall_form):
    area, controls = tall_form
    bar = area.verticalScrollBar()
    for control in controls:
        before, scrolled = _value(control), bar.value()
        _wheel(control)
        assert _value(control) == before, type(control).__name__
        assert bar.value() > scrolled, type(control).__name__  # the form moved instead
        assert control.focusPolicy() == Qt.FocusPolicy.StrongFocus  # the wheel gives no focus


def test_a_focused_control_still_takes_the_wheel(qtbot, tall_form):
    area, controls = tall_form
    bar = area.verticalScrollBar()
    for control in controls:
        control.setFocus()
        qtbot.waitUntil(control.hasFocus)
        before, scrolled = _value(control), bar.value()
        _wheel(control, notches=1)  # up: each starts above its minimum
        assert _value(control) != before, type(control).__name__
        assert bar.value() == scrolled


def test_every_page_form_in_a_scroll_area_scrolls_instead_of_changing(qtbot):
    """The real pages: each unfocused combo or spin box inside a scroll area ignores the wheel."""
    from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QScrollArea

    window = build_main_window()
    qtbot.addWidget(window)
    window.resize(1000, 560)  # small enough that the forms scroll
    window.show()
    window.setFocus()
    checked = []
    for spec in window._specs:
        page = window.show_page(spec.name)
        QApplication.processEvents()
        areas = [page] if isinstance(page, QScrollArea) else []  # Estimate is one itself
        for area in areas + page.findChildren(QScrollArea):
            if not area.isVisible() or area.widget() is None:
                continue
            found = [*area.widget().findChildren(QComboBox)]
            found += area.widget().findChildren(QAbstractSpinBox)
            controls = [c for c in found if c.isVisible() and c.isEnabled() and not c.hasFocus()]
            for control in controls[:6]:
                before = _value(control)
                for notches in (-1, 1):  # one of the two can move any control not at a limit
                    _wheel(control, notches)
                    assert _value(control) == before, f"{spec.name}: {control.objectName()}"
                checked.append(spec.name)
    assert {"estimate", "training"} <= set(checked)
    for page in window._pages.values():
        wait = getattr(page, "wait_for_background", None)
        if callable(wait):
            wait()


# --- the Dataset page's Export dialog and an existing file -------------------------------
def test_dataset_export_names_an_existing_file_and_replaces_it_only_when_asked(qtbot, tmp_path):
    from core.dataset.model import Dataset, Example
    from desktop.dataset.export_dialog import ExportDialog

    dataset = Dataset(
        name="tickets",
        examples=[
            Example(
                {
                    "messages": [
                        {"role": "user", "content": "Hi"},
                        {"role": "assistant", "content": "Hello"},
                    ]
                }
            )
        ],
    )
    theirs = tmp_path / "notes.jsonl"
    theirs.write_text("the user's own work\n", encoding="utf-8")
    dialog = ExportDialog(None, dataset)
    qtbot.addWidget(dialog)
    dialog.path_edit.setText(str(theirs))
    dialog.export()
    assert theirs.read_text(encoding="utf-8") == "the user's own work\n"  # nothing written yet
    assert "already exists" in dialog.error.text() and str(theirs) in dialog.error.text()
    assert dialog.export_button.text() == "Replace" and dialog.result() == 0

    dialog.path_edit.setText(str(tmp_path / "other.jsonl"))  # a new name forgets the answer
    dialog.path_edit.setText(str(theirs))
    assert dialog.export_button.text() == "Export" and not dialog.error.text()
    dialog.export()
    assert theirs.read_text(encoding="utf-8") == "the user's own work\n"

    dialog.export()  # the second press, after the dialog named the file: replaced
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert json.loads(theirs.read_text(encoding="utf-8").splitlines()[0])["messages"][1] == {
        "role": "assistant",
        "content": "Hello",
    }


def test_dataset_export_refuses_a_folder_without_touching_it(qtbot, tmp_path):
    from core.dataset.model import Dataset
    from desktop.dataset.export_dialog import ExportDialog

    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "keep.txt").write_text("x", encoding="utf-8")
    dialog = ExportDialog(None, Dataset(name="tickets", examples=[]))
    qtbot.addWidget(dialog)
    dialog.path_edit.setText(str(folder))
    dialog.export()
    assert "is a folder" in dialog.error.text() and dialog.export_button.text() == "Export"
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]
