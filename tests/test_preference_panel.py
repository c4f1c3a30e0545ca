"""The Dataset page's Preference pairs tab, driven as a user would: import a TRL file, edit a
side, see the problem, save a version the Train page offers, add pairs from A/B ratings."""

from __future__ import annotations

import json

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
    assert "No pairs yet" in panel.status.text() and not panel.save_button.isEnabled()
    message = panel.import_file(_file(tmp_path))
    assert "Added 12 pairs" in message and "1 lines skipped" in message
    assert panel.table.rowCount() == 12

    # Editing the rejected answer into the chosen one is a problem saving refuses.
    panel.table.item(0, REJECTED_COLUMN).setText('{"team": "billing"}')
    assert not panel.save_button.isEnabled()
    assert "same answer" in panel.status.text()
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
    assert "1 ties skipped, 1 pairs not rated yet" in panel.status.text()


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
