"""The Dataset page, driven like a user: edit in place, undo and redo, filter, fix, bulk edits."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt, QTimer

from core.dataset import edits
from core.dataset.model import Dataset
from core.dataset.versions import save_version
from core.hardware import detect_hardware
from desktop.context import AppContext
from desktop.dataset.examples_model import COL_REVIEWED, FINDINGS_ROLE
from desktop.dataset.page import DatasetPage

SYSTEM = "You turn support requests into JSON."


def support_conversations(n: int = 12) -> list[list[dict]]:
    conversations = []
    for i in range(n):
        reply = json.dumps({"intent": "late_order" if i % 2 else "refund", "order": i})
        if i == 3:
            reply += "  "  # trailing whitespace: a fixable warning
        conversations.append(
            [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"Order {i} is late, where is it?"},
                {"role": "assistant", "content": reply},
            ]
        )
    return conversations


@pytest.fixture
def saved(project):
    dataset = Dataset.from_conversations(support_conversations(), name="support")
    dataset.examples[5] = dataset.examples[5].replace(tags=("billing",), reviewed=True)
    version = save_version(project, dataset, note="first")
    return project, version


def make_page(qtbot, project) -> DatasetPage:
    page = DatasetPage(AppContext(project, detect_hardware(use_torch=False)))
    qtbot.addWidget(page)
    page.resize(1200, 760)
    page.show()
    page.editor.wait_for_checks()
    qtbot.wait(150)  # the findings view refreshes on a short timer
    return page


@pytest.fixture
def page(qtbot, saved):
    page = make_page(qtbot, saved[0])
    yield page
    page.can_close()


def texts(page, index):
    return [m["content"] for m in page.editor.dataset.examples[index].messages]


def test_the_latest_version_opens_with_its_findings_on_the_rows(page):
    assert page.stack.currentIndex() == 1
    assert page.model.rowCount() == 12
    assert "v1" in page.header.state_label.text() and "saved" in page.header.state_label.text()
    assert len(page.conversation.bubbles) == 3
    findings = page.model.data(page.model.index(3, 1), FINDINGS_ROLE)
    assert any(f.code == "whitespace" and f.fixable for f in findings)
    assert page.model.data(page.model.index(3, 1)).startswith("▲")
    assert (
        page.model.data(page.model.index(5, COL_REVIEWED), Qt.ItemDataRole.CheckStateRole)
        == Qt.CheckState.Checked
    )


def test_typing_in_a_bubble_is_one_undo_step_and_ctrl_z_in_the_bubble_undoes_it(page, qtbot):
    bubble = page.conversation.bubbles[2]
    bubble.text_edit.setFocus()
    bubble.text_edit.moveCursor(bubble.text_edit.textCursor().MoveOperation.End)
    qtbot.keyClicks(bubble.text_edit, " thanks")
    assert texts(page, 0)[2].endswith("} thanks")
    assert page.editor.stack.count() == 1  # seven keystrokes merged into one step
    assert "unsaved" in page.header.state_label.text()
    assert page.header.save_button.isEnabled()
    qtbot.keyClick(bubble.text_edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not texts(page, 0)[2].endswith("thanks")
    assert page.editor.stack.isClean() and "saved" in page.header.state_label.text()
    assert page.conversation.bubbles[2].text_edit.toPlainText() == texts(page, 0)[2]
    qtbot.keyClick(
        page.conversation.bubbles[2].text_edit,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert texts(page, 0)[2].endswith("} thanks")


def test_role_picker_and_message_buttons_are_undoable(page, qtbot):
    page.conversation.bubbles[1].role_box.setCurrentText("assistant")
    assert page.editor.dataset.examples[0].messages[1]["role"] == "assistant"
    qtbot.mouseClick(
        page.conversation.findChildren(type(page.header.undo_button), "bubble_delete")[0],
        Qt.MouseButton.LeftButton,
    )
    assert len(page.editor.dataset.examples[0].messages) == 2
    assert len(page.conversation.bubbles) == 2
    page.conversation.add_message()
    assert page.editor.dataset.examples[0].messages[-1] == {"role": "user", "content": ""}
    for _ in range(3):
        page.editor.stack.undo()
    assert page.editor.stack.isClean()
    assert [m["role"] for m in page.editor.dataset.examples[0].messages] == [
        "system",
        "user",
        "assistant",
    ]
    assert [b.role for b in page.conversation.bubbles] == ["system", "user", "assistant"]


def test_tags_review_mark_and_rating_from_the_conversation_view(page, qtbot):
    view = page.conversation
    view.tags_edit.setText("refund, urgent")
    view.tags_edit.editingFinished.emit()
    qtbot.mouseClick(view.reviewed_box, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(view.stars.buttons[3], Qt.MouseButton.LeftButton)
    example = page.editor.dataset.examples[0]
    assert (example.tags, example.reviewed, example.rating) == (("refund", "urgent"), True, 4)
    assert page.model.data(page.model.index(0, 5)) == "★★★★"
    assert page.editor.stack.count() == 3


def test_search_tag_severity_and_review_filters(page):
    panel = page.examples_panel
    panel.search.setText("ORDER 1")  # case-insensitive: orders 1, 10, 11
    panel.apply_filter()
    page.model.finish_filtering()
    assert page.model.rowCount() == 3
    assert "Showing 3 of 12" in panel.count_label.text()
    panel.search.clear()
    panel.tag_box.setCurrentIndex(panel.tag_box.findData("billing"))
    page.model.finish_filtering()
    assert [page.model.dataset_index(r) for r in range(page.model.rowCount())] == [5]
    panel.clear_filters()
    panel.severity_box.setCurrentIndex(panel.severity_box.findData("warning"))
    page.model.finish_filtering()
    assert 3 in [page.model.dataset_index(r) for r in range(page.model.rowCount())]
    panel.clear_filters()
    panel.review_box.setCurrentIndex(panel.review_box.findData(False))
    page.model.finish_filtering()
    assert page.model.rowCount() == 11
    panel.clear_filters()
    assert page.model.rowCount() == 12


def test_an_edited_row_stays_visible_under_a_filter_and_deletion_keeps_the_mapping(page):
    panel = page.examples_panel
    panel.search.setText("order 1")
    panel.apply_filter()
    page.model.finish_filtering()
    shown = [page.model.dataset_index(r) for r in range(page.model.rowCount())]
    assert shown == [1, 10, 11]
    page.editor.push(edits.remove_examples([0]))
    assert [page.model.dataset_index(r) for r in range(page.model.rowCount())] == [0, 9, 10]
    page.editor.stack.undo()
    # Examples that come back (or are added) are shown, so the user sees what changed.
    assert [page.model.dataset_index(r) for r in range(page.model.rowCount())] == [0, 1, 10, 11]


def test_one_click_fix_trims_the_reply_and_undo_brings_it_back(page, qtbot):
    panel = page.examples_panel
    panel.select(3)
    view = page.conversation
    assert view.bubbles[2]._severity == "warning"  # the offending message is highlighted
    fix_buttons = [
        b
        for b in view.findings_box.findChildren(type(page.header.save_button))
        if b.text() == "Fix"
    ]
    assert fix_buttons
    qtbot.mouseClick(fix_buttons[0], Qt.MouseButton.LeftButton)
    assert texts(page, 3)[2] == texts(page, 3)[2].strip()
    page.editor.wait_for_checks()
    assert not any(
        f.code == "whitespace" for f in page.editor.findings_for(page.editor.dataset.examples[3])
    )
    page.editor.stack.undo()
    assert texts(page, 3)[2].endswith("  ")


def test_clicking_a_finding_jumps_to_its_example_and_message(page, qtbot):
    page.tabs.setCurrentIndex(1)
    page.findings_panel.refresh()
    model = page.findings_panel.model
    row = next(r for r, (f, _e) in enumerate(model.rows) if f.code == "whitespace")
    page.findings_panel.table.clicked.emit(model.index(row, 2))
    assert page.tabs.currentIndex() == 0
    assert page.examples_panel.current_index == 3
    assert page.conversation.bubbles[2].text_edit.hasFocus()


def test_fix_all_is_one_step(page):
    page.editor.push(edits.set_message_text(page.editor.dataset, 7, 2, "ok "))
    page.editor.wait_for_checks()
    fixed = page.examples.fix_all()
    assert fixed == 2
    assert texts(page, 7)[2] == "ok" and not texts(page, 3)[2].endswith(" ")
    page.editor.stack.undo()
    assert texts(page, 7)[2] == "ok " and texts(page, 3)[2].endswith("  ")


def test_bulk_replace_is_one_macro_undone_by_one_ctrl_z(page, qtbot):
    page.bulk.replace_in_replies("late_order", "delayed_order")
    replies = [texts(page, i)[2] for i in range(12)]
    assert sum("delayed_order" in r for r in replies) == 6
    assert "Replaced 6" in page.last_message
    assert page.editor.stack.count() == 1
    page.examples_panel.table.setFocus()
    qtbot.keyClick(page.examples_panel.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not any("delayed_order" in texts(page, i)[2] for i in range(12))
    assert page.editor.stack.isClean()


def test_a_big_bulk_edit_runs_in_the_background_and_holds_the_page_still(page, qtbot, monkeypatch):
    from desktop.dataset import bulk_actions

    monkeypatch.setattr(bulk_actions, "BACKGROUND_BULK_AT", 5)  # 12 examples count as big
    page.bulk.replace_in_replies("late_order", "delayed_order")
    assert page.bulk.task is not None and not page.isEnabled()  # built off the GUI thread
    qtbot.waitUntil(lambda: page.bulk.task is None, timeout=60_000)
    assert page.isEnabled() and not page.progress.isVisible()
    assert sum("delayed_order" in texts(page, i)[2] for i in range(12)) == 6
    assert page.editor.stack.count() == 1 and "Replaced 6" in page.last_message


def test_one_system_prompt_and_delete_duplicates(page):
    page.bulk.set_system_prompt_for_all("Reply with JSON only.")
    assert all(texts(page, i)[0] == "Reply with JSON only." for i in range(12))
    dup = edits.duplicate_examples(page.editor.dataset, [2, 4])
    page.editor.push(dup)
    assert len(page.editor.dataset) == 14
    page.bulk.delete_duplicates()
    assert len(page.editor.dataset) == 12
    page.editor.stack.undo()
    assert len(page.editor.dataset) == 14


def test_new_duplicate_delete_and_move_examples_with_keys(page, qtbot):
    panel = page.examples_panel
    panel.select(2)
    page.examples.new_example()
    assert len(page.editor.dataset) == 13 and panel.current_index == 3
    assert [m["role"] for m in page.editor.dataset.examples[3].messages] == [
        "system",
        "user",
        "assistant",
    ]
    assert page.conversation.bubbles[1].text_edit.hasFocus()  # ready to type the question
    page.examples.duplicate_selected()
    assert len(page.editor.dataset) == 14
    first_id = page.editor.dataset.examples[0].id
    panel.select(0)
    panel.table.setFocus()
    qtbot.keyClick(panel.table, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert page.editor.dataset.examples[1].id == first_id and panel.current_index == 1
    qtbot.keyClick(panel.table, Qt.Key.Key_Delete)
    assert len(page.editor.dataset) == 13 and first_id not in [
        e.id for e in page.editor.dataset.examples
    ]
    for _ in range(4):
        page.editor.stack.undo()
    assert page.editor.stack.isClean() and len(page.editor.dataset) == 12


def test_the_review_checkbox_in_the_list_is_undoable(page):
    index = page.model.index(0, COL_REVIEWED)
    assert page.model.setData(index, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert page.editor.dataset.examples[0].reviewed
    page.editor.stack.undo()
    assert not page.editor.dataset.examples[0].reviewed


def test_a_broken_line_can_be_repaired_in_place(qtbot, project, tmp_path):
    from core.dataset.formats import import_dataset

    path = tmp_path / "broken.jsonl"
    good = json.dumps({"messages": support_conversations(1)[0]})
    path.write_text(good + "\n" + '{"messages": [{"role": "user", "content": "hi"}\n')
    page = make_page(qtbot, project)
    try:
        page.opening.take_import(import_dataset(path), append=False)
        page.editor.wait_for_checks()
        assert len(page.editor.dataset) == 2 and page.editor.dataset.examples[1].is_broken
        page.examples_panel.select(1)
        assert page.conversation.raw_box.isVisibleTo(page.conversation)
        page.conversation.raw_edit.setPlainText(good)
        page.conversation.raw_apply.click()
        assert not page.editor.dataset.examples[1].is_broken
        page.editor.wait_for_checks()
        assert page.editor.counts()["error"] == 0
    finally:
        page.can_close()


def test_ctrl_f_goes_to_the_search_from_anywhere_on_the_page(page, qtbot):
    page.tabs.setCurrentIndex(2)
    page.conversation.setFocus()
    page.examples_panel.table.setFocus()
    qtbot.keyClick(page.examples_panel.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert page.tabs.currentIndex() == 0 and page.examples_panel.search.hasFocus()


def test_header_tooltips_bulk_menu_findings_count_and_ctrl_s_reach_their_parts(page, qtbot):
    from PySide6.QtWidgets import QApplication

    header = page.header
    for button in (
        header.undo_button,
        header.redo_button,
        header.import_button,
        header.export_button,
        header.bulk_button,
        header.save_button,
    ):
        assert button.toolTip()
    actions = {a.text(): a for a in header.bulk_menu.actions() if not a.isSeparator()}
    assert list(actions) == [
        "Find and replace in assistant replies…",
        "Set one system prompt for all…",
        "Delete exact duplicates",
        "Mark all shown as reviewed",
        "Fix all certain problems",
    ]
    counts = page.editor.counts()
    problems = counts["error"] + counts["warning"]
    assert problems and page.tabs.tabText(1) == f"Findings ({problems})"

    actions["Mark all shown as reviewed"].trigger()
    assert all(e.reviewed for e in page.editor.dataset.examples)
    assert page.last_message == "Marked 12 examples as reviewed."
    actions["Fix all certain problems"].trigger()
    assert not texts(page, 3)[2].endswith(" ") and "Ctrl+Z undoes it" in page.last_message
    page.editor.wait_for_checks()
    counts = page.editor.counts()
    left = counts["error"] + counts["warning"]
    assert left < problems
    expected = f"Findings ({left})" if left else "Findings"
    qtbot.waitUntil(lambda: page.tabs.tabText(1) == expected)  # the count follows the fix

    table = page.examples_panel.table
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert texts(page, 3)[2].endswith("  ")  # Ctrl+Z took the fix back
    redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(table, Qt.Key.Key_Z, redo)
    assert not texts(page, 3)[2].endswith(" ")  # and Ctrl+Shift+Z redid it

    seen = []

    def close_the_save_dialog():
        dialog = QApplication.activeModalWidget()
        seen.append(dialog.windowTitle())
        dialog.reject()

    QTimer.singleShot(0, close_the_save_dialog)
    qtbot.keyClick(table, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert seen == ["Save as v2"] and not page.editor.is_saving


def test_new_example_with_no_dataset_open_starts_a_new_dataset(qtbot, project):
    page = make_page(qtbot, project)
    try:
        assert page.stack.currentWidget() is page.empty_state
        page.examples.new_example()
        assert page.stack.currentWidget() is page.tabs and page.tabs.currentIndex() == 0
        assert page.editor.dataset.name == "my-dataset" and len(page.editor.dataset) == 1
        assert "not saved as a version yet" in page.header.state_label.text()
    finally:
        page.can_close()
