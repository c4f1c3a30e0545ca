"""The eval-set box as the walk saw it: after an evaluation (which stores the set) the box
kept showing the chosen set, and JSON reference answers count as format checks."""

from __future__ import annotations

import json

from core.evaluation.eval_set import load_eval_set_file
from core.evaluation.store import save_eval_set
from desktop.evaluation.eval_set_choice import EvalSetChoice


def write_set(path, n=3):
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Route ticket {i}"},
                {"role": "assistant", "content": json.dumps({"team": "billing", "id": i})},
            ]
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_json_references_count_as_format_checks(qtbot, project, tmp_path):
    choice = EvalSetChoice(project)
    qtbot.addWidget(choice)
    assert choice.use_file(write_set(tmp_path / "routing.jsonl")) is None
    assert "3 with format checks" in choice.info.text(), choice.info.text()


def test_the_chosen_file_stays_chosen_after_it_is_stored(qtbot, project, tmp_path):
    other = write_set(tmp_path / "other.jsonl", n=5)
    save_eval_set(project, load_eval_set_file(other))  # a set used before: listed first
    choice = EvalSetChoice(project)
    qtbot.addWidget(choice)
    path = write_set(tmp_path / "routing.jsonl")
    assert choice.use_file(path) is None
    assert choice.current().source == str(path) or choice.current().name == "routing"
    chosen = choice.combo.currentText()
    save_eval_set(project, choice.current())  # what an evaluation does with its set
    choice.refresh()  # what the page does when the evaluation ends
    assert choice.combo.currentText() == chosen
    assert len(choice.current().examples) == 3
