"""The Dataset page and the project: saving versions, drafts after a crash, other pages' data."""

from __future__ import annotations

import json

import pytest
from waiting import WORK_MS

from core.dataset import edits
from core.dataset.drafts import drafts_dir, list_drafts, new_draft_path, write_draft
from core.dataset.model import Dataset
from core.dataset.versions import list_versions, save_version
from core.handoff import DraftsForDataset
from core.hardware import detect_hardware
from desktop.context import AppContext
from desktop.dataset.page import DatasetPage


def conversations(n: int = 8) -> list[list[dict]]:
    return [
        [
            {"role": "user", "content": f"Where is order {i}?"},
            {"role": "assistant", "content": json.dumps({"intent": "where_is_order", "order": i})},
        ]
        for i in range(n)
    ]


@pytest.fixture
def saved(project):
    version = save_version(
        project, Dataset.from_conversations(conversations(), name="support"), note="first"
    )
    return project, version


pages: list[DatasetPage] = []


def make_page(qtbot, project) -> DatasetPage:
    page = DatasetPage(AppContext(project, detect_hardware(use_torch=False)))
    qtbot.addWidget(page)
    page.resize(1200, 760)
    with qtbot.waitExposed(page):
        page.show()
    page.editor.wait_for_checks()
    pages.append(page)
    return page


@pytest.fixture(autouse=True)
def close_pages():
    yield
    while pages:
        pages.pop().can_close()


def test_saving_a_version_marks_the_stack_clean_and_lists_it(qtbot, saved):
    project, _v1 = saved
    page = make_page(qtbot, project)
    page.editor.push(edits.set_message_text(page.editor.dataset, 0, 1, "Rewritten reply"))
    assert "unsaved changes to v1" in page.header.state_label.text()
    with qtbot.waitSignal(page.editor.version_saved, timeout=WORK_MS) as saved_signal:
        assert page.saving.save_version("rewrote the first reply")
    version = saved_signal.args[0]
    assert version.label == "v2" and version.note == "rewrote the first reply"
    assert [v.label for v in list_versions(project)] == ["v1", "v2"]
    assert page.editor.stack.isClean() and "v2" in page.header.state_label.text()
    assert page.versions_panel.table.rowCount() == 2
    assert version.load_dataset().examples[0].messages[1]["content"] == "Rewritten reply"
    assert not list_drafts(project)  # nothing left to recover once it is saved
    page.editor.stack.undo()
    assert "unsaved changes to v2" in page.header.state_label.text()


def test_a_dataset_with_errors_is_not_saved_and_the_page_says_why(qtbot, saved):
    project, _v1 = saved
    page = make_page(qtbot, project)
    page.editor.push(edits.set_message_text(page.editor.dataset, 2, 1, ""))  # empty reply
    with qtbot.waitSignal(page.editor.save_failed, timeout=WORK_MS):
        page.saving.save_version("broken")
    assert "error" in page.last_message and page.notice_bar.isVisible()
    assert [v.label for v in list_versions(project)] == ["v1"]
    assert not page.editor.stack.isClean()


def test_opening_an_older_version_and_comparing_two(qtbot, saved):
    project, v1 = saved
    dataset = v1.load_dataset()
    dataset.examples.append(edits.new_example())
    dataset.examples[-1] = dataset.examples[-1].replace(
        messages=[{"role": "user", "content": "Cancel it"}, {"role": "assistant", "content": "{}"}]
    )
    dataset.examples[0] = dataset.examples[0].replace(
        messages=[
            {"role": "user", "content": "Where is order 0?"},
            {"role": "assistant", "content": "{}"},
        ]
    )
    save_version(project, dataset, note="second")
    page = make_page(qtbot, project)
    assert len(page.editor.dataset) == 9 and page.editor.base_version.label == "v2"
    panel = page.versions_panel
    panel.refresh()
    panel.table.selectAll()
    html = panel.compare_selected()
    assert "1 added, 0 removed, 1 changed" in html and "Cancel it" in html
    panel.table.clearSelection()
    panel.table.selectRow(1)  # newest first: row 1 is v1
    with qtbot.waitSignal(panel.open_requested):
        panel.open_selected()
    assert page.editor.base_version.label == "v1" and len(page.editor.dataset) == 8


def test_edits_survive_a_crash_and_the_page_offers_to_restore_them(qtbot, saved):
    project, _v1 = saved
    crashed = make_page(qtbot, project)
    crashed.editor.push(
        edits.set_message_text(crashed.editor.dataset, 1, 0, "typed just before the crash")
    )
    crashed.editor.push(edits.remove_examples([5]))
    crashed.autosaver.tick()  # what the 3-second timer does
    crashed.autosaver._join()
    # No can_close(): the process "dies" here; a new window starts on the same project.
    page = make_page(qtbot, project)
    assert page.drafts.bar.isVisible() and "based on v1" in page.drafts.bar.label.text()
    assert page.editor.base_version.label == "v1" and len(page.editor.dataset) == 8
    assert page.opening.restore_draft()
    dataset = page.editor.dataset
    assert len(dataset) == 7
    assert dataset.examples[1].messages[0]["content"] == "typed just before the crash"
    assert (
        not page.editor.stack.isClean()
        and "unsaved changes to v1" in page.header.state_label.text()
    )
    assert not page.drafts.bar.isVisible()
    # Unchanged examples are the base version's own objects: the draft refers to them by id.
    assert dataset.examples[0] is page.editor.base_by_id[dataset.examples[0].id]
    with qtbot.waitSignal(page.editor.version_saved, timeout=WORK_MS):
        page.saving.save_version("recovered")
    assert list_versions(project)[-1].n_examples == 7


def test_a_draft_written_on_disk_is_offered_when_the_page_is_created(qtbot, saved):
    project, v1 = saved
    base = v1.load_dataset()
    base_by_id = {e.id: e for e in base.examples}
    examples = list(base.examples)
    examples[3] = examples[3].replace(tags=("recovered",))
    examples.append(edits.new_example("A system prompt"))
    path = new_draft_path(project, "support")
    write_draft(path, "support", examples, v1, base_by_id, note="half-done")
    lines = path.read_bytes().splitlines()
    assert (
        len(lines) == 10
        and lines[1] == json.dumps({"finetune_studio_ref": examples[0].id}).encode()
    )
    page = make_page(qtbot, project)
    assert page.drafts.pending[0].path == path
    page.opening.restore_draft()
    assert page.editor.dataset.examples[3].tags == ("recovered",)
    assert len(page.editor.dataset) == 10 - 1
    assert page.autosaver.note == "half-done"
    assert not path.exists()  # now kept in this session's own draft
    assert page.autosaver.path is not None and page.autosaver.path.exists()


def test_discarding_a_draft_deletes_it_and_closing_flushes_the_current_one(qtbot, saved):
    project, _v1 = saved
    page = make_page(qtbot, project)
    page.editor.push(edits.set_tags(page.editor.dataset, 0, ["x"]))
    assert page.can_close()  # flushes the draft at once, no timer needed
    assert len(list_drafts(project)) == 1
    second = make_page(qtbot, project)
    second.drafts.discard()
    assert not list_drafts(project) and not second.drafts.bar.isVisible()
    assert not any(drafts_dir(project).glob("*.jsonl"))


def test_evaluate_can_hand_over_failing_cases_as_draft_examples(qtbot, saved):
    project, v1 = saved
    page = make_page(qtbot, project)
    page.receive(
        DraftsForDataset(
            base_version_id=v1.id,
            drafts=[
                {
                    "messages": [
                        {"role": "user", "content": "Refund order 9"},
                        {"role": "assistant", "content": "?"},
                    ]
                },
                [
                    {"role": "user", "content": "Cancel order 4"},
                    {"role": "assistant", "content": "?"},
                ],
            ],
            note="from error analysis",
        )
    )
    page.model.finish_filtering()
    assert len(page.editor.dataset) == 10
    assert [e.tags for e in page.editor.dataset.examples[-2:]] == [("draft",), ("draft",)]
    assert page.model.rowCount() == 2  # the list shows the drafts to work on
    assert page.examples_panel.current_index == 8
    assert page.autosaver.note == "from error analysis"
    assert not page.editor.stack.isClean()
    page.editor.stack.undo()
    assert len(page.editor.dataset) == 8


def test_an_empty_project_shows_the_way_to_start(qtbot, project):
    page = make_page(qtbot, project)
    assert page.stack.currentWidget() is page.empty_state
    assert (
        not page.header.save_button.isEnabled() and "No dataset" in page.header.state_label.text()
    )
    page.empty_state.new_button.click()
    assert page.stack.currentIndex() == 1 and len(page.editor.dataset) == 1
    assert page.conversation.bubbles[0].text_edit.hasFocus()
    assert "not saved as a version yet" in page.header.state_label.text()
    page.conversation.bubbles[0].text_edit.setPlainText("Where is my parcel?")
    page.conversation.bubbles[1].text_edit.setPlainText('{"intent": "where_is_order"}')
    with qtbot.waitSignal(page.editor.version_saved, timeout=WORK_MS):
        page.saving.save_version("first examples", name="parcels")
    assert [(v.dataset, v.label) for v in list_versions(project)] == [("parcels", "v1")]


def test_a_large_version_opens_in_the_background(qtbot, saved, monkeypatch):
    import desktop.dataset.version_opening as opening_module

    project, v1 = saved
    monkeypatch.setattr(opening_module, "BACKGROUND_OPEN_AT", 5)  # "large" for this test
    page = make_page(qtbot, project)
    page.opening.wait_for_open()
    assert page.editor.base_version.id == v1.id and len(page.editor.dataset) == 8
    page.editor.push(edits.remove_examples([0]))
    page.opening.open_version(v1)
    assert page.progress.isVisible() or page.opening.task is None
    page.opening.wait_for_open()
    assert len(page.editor.dataset) == 8 and page.editor.stack.isClean()
    assert len(list_drafts(project)) == 1  # the set-aside edit stays restorable
    assert page.drafts.bar.isVisible()
