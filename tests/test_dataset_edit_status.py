"""The Dataset page's words about the open dataset (core/dataset/edit_status.py), without Qt."""

from __future__ import annotations

from core.dataset.edit_status import (
    EditState,
    findings_tab_title,
    has_unsaved_work,
    save_button_text,
    save_refused_message,
    saved_message,
    status_line,
    unsaved_question,
)

SAVED_V1 = EditState(
    is_open=True,
    n_examples=1200,
    base_label="v1",
    base_saved_at="2026-12-06T10:00:00",
    clean=True,
    saved=True,
)
EDITED_V1 = EditState(True, 1201, "v1", "2026-12-06T10:00:00", clean=False, saved=False)
NEW = EditState(True, 3, None, "", clean=False, saved=False)
NEW_EMPTY = EditState(True, 0, None, "", clean=True, saved=False)


def test_the_state_line_names_size_base_version_and_unsaved_edits():
    assert status_line(EditState(is_open=False)) == "No dataset in this project yet."
    assert status_line(SAVED_V1) == "1,200 examples · v1 · saved 2026-12-06"
    assert status_line(EDITED_V1) == (
        "1,201 examples · ● unsaved changes to v1 · autosaved as a draft"
    )
    assert status_line(NEW) == (
        "3 examples · not saved as a version yet · edits are autosaved as a draft"
    )


def test_unsaved_work_is_edits_that_are_not_a_saved_version():
    assert has_unsaved_work(EDITED_V1) and has_unsaved_work(NEW)
    assert not has_unsaved_work(SAVED_V1)
    assert not has_unsaved_work(NEW_EMPTY)  # an empty new dataset has nothing to lose
    assert not has_unsaved_work(EditState(is_open=False))
    # Every example deleted from a saved version is still a change worth asking about.
    assert has_unsaved_work(EditState(True, 0, "v2", "2026-12-06", clean=False, saved=False))


def test_the_save_button_says_saved_only_for_an_unchanged_version():
    assert save_button_text(SAVED_V1) == "Saved ✓"
    assert save_button_text(EDITED_V1) == "Save as new version…"
    assert save_button_text(NEW) == "Save as new version…"


def test_the_quit_question_names_the_dataset_and_its_base_version():
    text, explanation = unsaved_question("tickets", "v3")
    assert text == "“tickets” has unsaved changes to v3."
    assert "Discard" in explanation and "Cancel" in explanation
    assert unsaved_question("tickets", None)[0] == (
        "“tickets” has not been saved as a version yet."
    )


def test_save_messages():
    assert saved_message("tickets", "v2", 1080, 120) == (
        "Saved tickets v2: 1,080 for training, 120 for validation."
    )
    refused = save_refused_message("ignored", 1)
    assert refused.startswith("Not saved: 1 error would break training.") and "Findings" in refused
    assert "3 errors" in save_refused_message("ignored", 3)
    assert save_refused_message("disk full", 0) == "Not saved: disk full"


def test_the_findings_tab_counts_errors_and_warnings_not_notes():
    assert findings_tab_title({"error": 2, "warning": 1, "info": 7}) == "Findings (3)"
    assert findings_tab_title({"error": 0, "warning": 1200, "info": 0}) == "Findings (1,200)"
    assert findings_tab_title({"error": 0, "warning": 0, "info": 4}) == "Findings"
