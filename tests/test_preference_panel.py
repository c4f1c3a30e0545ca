"""The Dataset page's Preference pairs tab, driven as a user would: import a TRL file, edit a
side, see the problem, save a version the Train page offers, add pairs from A/B ratings."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from test_evaluation_ab import _stored_runs

from core.dataset.preferences_store import preference_versions
from core.evaluation.ab_pairs import Rating, blind_pairs, create_pair_set, record_rating
from desktop.dataset.preference_panel import CHOSEN_COLUMN, REJECTED_COLUMN, PreferencePanel


def _file(tmp_path, n=12):
    rows = [
        {
            "prompt": [{"role": "user", "content": f"Ticket {i}: which team?"}],
            "chosen": [{"role": "assistant", "content": '{"team": "billing"}'}],
            "rejected": [{"role": "assistant", "content": "No idea."}],
        }
        for i in range(n)
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    return path


def test_import_edit_and_save_a_preference_version(qtbot, project, tmp_path):
    panel = PreferencePanel(project)
    qtbot.addWidget(panel)
    panel.resize(1000, 500)
    panel.show()
    # No pairs: the table's place says what pairs are and where they come from.
    assert panel.empty_label.isVisible() and not panel.table.isVisible()
    assert "Import JSONL" in panel.empty_label.text() and "dpo" in panel.empty_label.text()
    assert not panel.save_button.isEnabled()
    message = panel.import_file(_file(tmp_path))
    assert "Added 12 pairs" in message and "1 line of the file could not be read" in message
    assert panel.table.isVisible() and not panel.empty_label.isVisible()
    assert panel.table.rowCount() == 12

    # Editing the rejected answer into the chosen one is a problem saving refuses.
    panel.table.item(0, REJECTED_COLUMN).setText('{"team": "billing"}')
    assert not panel.save_button.isEnabled()
    assert "1 problem to fix" in panel.status.text()
    assert "same answer" in panel.problems.item(0).text()
    panel.table.item(0, CHOSEN_COLUMN).setText('{"team": "refund"}')
    assert panel.save_button.isEnabled()
    assert panel.pairs()[0].chosen_text == '{"team": "refund"}'

    panel.table.selectRow(11)
    panel.delete_button.click()
    assert panel.table.rowCount() == 11
    with qtbot.waitSignal(panel.version_saved) as saved:
        panel.save_button.click()
    (version,) = preference_versions(project)
    assert saved.args == [version.id] and version.n_examples == 11
    assert "prefs" not in panel.version_combo.itemText(0)
    assert "preferences v1 · 11 pairs" in panel.version_combo.itemText(0)
    panel.grab().save(str(tmp_path / "preference_panel.png"))

    other = PreferencePanel(project)
    qtbot.addWidget(other)
    other.open_version(version.id)
    assert sorted(p.chosen_text for p in other.pairs()) == sorted(
        p.chosen_text for p in panel.pairs()
    )


def test_pairs_from_ab_ratings_count_the_ties(qtbot, project):
    base, tuned = _stored_runs(project, n=3)
    set_id = create_pair_set(project, base, tuned, seed=5)
    pairs = blind_pairs(project, set_id)
    record_rating(project, pairs[0].id, "ana", Rating("A"))
    record_rating(project, pairs[1].id, "ana", Rating("tie"))
    panel = PreferencePanel(project)
    qtbot.addWidget(panel)
    assert panel.ratings_button.isEnabled()
    panel.ratings_button.click()
    assert panel.table.rowCount() == 1
    assert "1 tie skipped, 1 pair not rated yet" in panel.status.text()


def test_the_dataset_page_reaches_preference_pairs_without_a_chat_dataset(qtbot, project, tmp_path):
    from core.hardware import HardwareInfo
    from desktop.context import AppContext
    from desktop.dataset.page import DatasetPage

    page = DatasetPage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    assert page.stack.currentWidget() is page.empty_state
    page.empty_state.preferences_button.click()
    assert page.tabs.currentWidget() is page.preferences_panel
    assert page.preferences_panel.isVisible()
    page.grab().save(str(tmp_path / "dataset_preferences.png"))


def test_every_problem_is_listed_with_its_file_line_and_selects_its_pair(qtbot, project, tmp_path):
    """An imported file with problems: each names its pair and the file's line, the rows
    are tinted, a click selects the pair, and unreadable lines stay listed."""
    good = json.loads(_file(tmp_path, n=1).read_text().splitlines()[0])
    lines = [
        json.dumps(good),
        json.dumps({"prompt": "Ticket A", "chosen": "same", "rejected": "same"}),
        json.dumps({"prompt": "Ticket B", "chosen": "", "rejected": "no"}),
        json.dumps({"prompt": "Ticket C", "chosen": "ok"}),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    panel = PreferencePanel(project)
    qtbot.addWidget(panel)
    panel.resize(1000, 600)
    panel.show()
    panel.import_file(path)
    assert panel.table.rowCount() == 3
    texts = [panel.problems.item(i).text() for i in range(panel.problems.count())]
    assert panel.problems.isVisible() and len(texts) == 3
    assert texts[0].startswith("Pair 2 (bad.jsonl line 2): chosen and rejected are the same")
    assert texts[1].startswith("Pair 3 (bad.jsonl line 3): the chosen answer is empty")
    assert "Fix:" in texts[1]
    assert texts[2].startswith("bad.jsonl, not imported: Line 4: no 'rejected'")
    assert "2 problems to fix before saving" in panel.status.text()
    no_brush = Qt.BrushStyle.NoBrush
    assert panel.table.item(1, CHOSEN_COLUMN).background().style() != no_brush
    assert panel.table.item(0, CHOSEN_COLUMN).background().style() == no_brush

    assert not panel.delete_button.isEnabled()  # nothing selected yet
    panel.problems.itemClicked.emit(panel.problems.item(1))
    assert {i.row() for i in panel.table.selectedIndexes()} == {2}
    assert panel.delete_button.isEnabled()
    panel.delete_button.click()
    panel.table.item(1, REJECTED_COLUMN).setText("a different answer")
    assert panel.save_button.isEnabled()
    # Only the file's unreadable line is left, until the version is saved.
    assert panel.problems.count() == 1 and "not imported" in panel.problems.item(0).text()
    panel.save_version()
    assert not panel.problems.isVisible()


def test_make_preference_pairs_on_evaluate_lands_on_the_preference_tab(qtbot, project):
    """Evaluate's blind A/B view offers its rated pairs as DPO data; the Dataset page opens
    its Preference pairs tab with them added."""
    from core.hardware import HardwareInfo
    from desktop.context import AppContext
    from desktop.dataset.page import DatasetPage
    from desktop.evaluation.page import TAB_AB, EvaluatePage

    base, tuned = _stored_runs(project, n=3)
    set_id = create_pair_set(project, base, tuned, seed=5)
    context = AppContext(project, HardwareInfo(cpu_cores=2))
    dataset_page = DatasetPage(context)
    qtbot.addWidget(dataset_page)
    context.navigate_requested.connect(lambda _name, handoff: dataset_page.receive(handoff))
    evaluate = EvaluatePage(context)
    qtbot.addWidget(evaluate)
    evaluate.tabs.setCurrentIndex(TAB_AB)
    view = evaluate.ab_view
    view.refresh()
    view._fill_pair_sets(select=set_id)
    assert not view.preferences_button.isEnabled()  # nothing rated: nothing to make
    pairs = blind_pairs(project, set_id)
    record_rating(project, pairs[0].id, "ana", Rating("A"))
    record_rating(project, pairs[1].id, "ana", Rating("tie"))
    view.update_results()
    assert view.preferences_button.isEnabled()
    view.preferences_button.click()
    assert dataset_page.tabs.currentWidget() is dataset_page.preferences_panel
    panel = dataset_page.preferences_panel
    assert panel.table.rowCount() == 1
    assert "1 tie skipped, 1 pair not rated yet" in panel.status.text()
    assert panel.ratings_combo.currentData() == set_id
    evaluate.can_close()
    dataset_page.can_close()


def test_the_same_judgment_is_not_added_twice(qtbot, project, tmp_path):
    """Importing a file again, or adding the same ratings twice, would count each judgment
    double in DPO: repeats are skipped and counted."""
    base, tuned = _stored_runs(project, n=3)
    set_id = create_pair_set(project, base, tuned, seed=5)
    record_rating(project, blind_pairs(project, set_id)[0].id, "ana", Rating("A"))
    panel = PreferencePanel(project)
    qtbot.addWidget(panel)
    path = _file(tmp_path, n=3)
    panel.import_file(path)
    assert panel.table.rowCount() == 3
    message = panel.import_file(path)
    assert panel.table.rowCount() == 3
    assert message.startswith("Added 0 pairs from pairs.jsonl (3 pairs already in the list")
    panel.add_from_ratings(set_id)
    assert "Added 1 pair from the A/B ratings;" in panel.status.text()
    panel.add_from_ratings(set_id)
    assert panel.table.rowCount() == 4
    assert "Added 0 pairs from the A/B ratings (1 pair already in the list" in (panel.status.text())


def test_on_the_pairs_tab_the_header_speaks_for_the_pairs_not_the_chat_data(
    qtbot, project, tmp_path
):
    from core.dataset.model import Dataset
    from core.dataset.versions import save_version
    from core.hardware import HardwareInfo
    from desktop.context import AppContext
    from desktop.dataset.page import DatasetPage

    chat = [
        [{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": "A"}]
        for i in range(9)
    ]
    save_version(project, Dataset.from_conversations(chat, name="support"), note="first")
    page = DatasetPage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    header = page.header
    qtbot.waitUntil(lambda: header.title.text() == "support")
    assert header.import_button.isVisible() and header.save_button.isVisible()

    # The chat dataset's name, "9 examples" and its Undo/Import/Export/Save read as if
    # they were the pairs'.
    page.tabs.setCurrentWidget(page.preferences_panel)
    assert header.title.text() == "Preference pairs"
    assert "none yet" in header.state_label.text()
    assert not any(button.isVisible() for button in header.chat_buttons)
    panel = page.preferences_panel
    panel.import_file(_file(tmp_path, n=3))
    assert (
        header.state_label.text().startswith("3 pairs") and "not saved" in header.state_label.text()
    )
    # A chat edit (undo stack, state line) does not take the header back.
    page.editor.stack.cleanChanged.emit(False)
    assert header.title.text() == "Preference pairs"
    # Ctrl+S saves the chat dataset: not from the pairs' tab.
    assert not any(shortcut.isEnabled() for shortcut in page._chat_shortcuts)
    version = panel.save_version()
    assert f"saved as preferences {version.label}" in header.state_label.text()
    panel.table.item(0, CHOSEN_COLUMN).setText("another answer")
    assert "not saved" in header.state_label.text()

    page.tabs.setCurrentIndex(0)
    assert header.title.text() == "support" and "9 examples" in header.state_label.text()
    assert all(button.isVisible() for button in header.chat_buttons)
    assert all(shortcut.isEnabled() for shortcut in page._chat_shortcuts)
    page.can_close()


def test_pairs_too_long_for_the_train_settings_are_found_with_their_tokenizer(
    qtbot, project, tiny_model_dir, tmp_path
):
    """Only `data validate --max-seq-len --tokenizer` said which pairs max_seq_length cuts;
    with the project's Train settings saved, the tab says it too, in the same words."""
    from core.dataset.preferences import validate_pairs
    from core.dataset.tokens import load_tokenizer
    from core.models.registry import add_local_model
    from core.recipe.config import TrainConfig
    from core.training.project_settings import save_train_settings

    add_local_model(project, tiny_model_dir, name="tiny")
    save_train_settings(project, TrainConfig(base_model="tiny", max_seq_length=40))
    panel = PreferencePanel(project)
    qtbot.addWidget(panel)
    panel.show()
    with qtbot.waitSignal(panel.lengths_checked, timeout=60_000):
        panel.import_file(_file(tmp_path, n=3))
    assert panel.problems.count() == 1  # the file's broken line; every pair fits in 40
    long_answer = " ".join(["billing"] * 60)
    with qtbot.waitSignal(panel.lengths_checked, timeout=60_000):
        panel.table.item(1, CHOSEN_COLUMN).setText(long_answer)
    texts = [panel.problems.item(i).text() for i in range(panel.problems.count())]
    (too_long,) = [t for t in texts if "max_seq_length" in t]
    expected = validate_pairs(
        panel.pairs(), tokenizer=load_tokenizer(tiny_model_dir), max_seq_length=40
    )
    assert [f.example for f in expected] == [1]
    assert too_long.startswith("Pair 2") and expected[0].message.partition(": ")[2] in too_long
    assert "Raise max_seq_length" in too_long
    assert panel.save_button.isEnabled()  # a warning: the end is cut, the pair still saves
    panel.wait_for_lengths()
