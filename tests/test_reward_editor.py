"""The reward editor: ticking presets writes the recipe's rewards text, a recipe's text
fills the rows back, bad options are named, a schema is offered from the bundled eval
set's references, a typed answer is scored at once, and the model's own answers are
sampled and scored off the GUI thread (tiny model)."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from core.recipe.config import TrainConfig
from core.rewards.spec import parse_spec
from desktop.training.reward_editor import RewardEditor, RewardEditorDialog
from resources.datasets import __file__ as datasets_init

EVAL_SET = __import__("pathlib").Path(datasets_init).with_name("support_tickets_eval.jsonl")


def test_ticked_presets_write_the_recipe_text(qtbot):
    editor = RewardEditor()
    qtbot.addWidget(editor)
    editor.show()
    texts = []
    editor.spec_changed.connect(texts.append)
    assert editor.error.text() == "Tick at least one reward."
    qtbot.mouseClick(editor.rows["valid_json"].tick, Qt.MouseButton.LeftButton)
    editor.rows["reference_match"].tick.setChecked(True)
    qtbot.keyClicks(editor.field_edit, "category")
    editor.rows["reference_match"].weight.setValue(2.0)
    spec = parse_spec(texts[-1])
    assert [(t.name, t.weight) for t in spec.terms] == [
        ("valid_json", 1.0),
        ("category_match", 2.0),
    ]
    assert not editor.error.isVisible()


def test_a_recipe_text_fills_the_rows_back(qtbot):
    text = (
        "[{kind: keys, required: [category], allowed: {priority: [low, high]}}, "
        "{kind: regex, pattern: '^\\{', full: false, weight: 0.5}, "
        "{kind: length_penalty, max_chars: 120}]"
    )
    editor = RewardEditor()
    qtbot.addWidget(editor)
    editor.set_spec_text(text)
    assert editor.required_edit.text() == "category"
    assert editor.allowed_edit.text() == "priority: low, high"
    assert editor.pattern_edit.text() == "^\\{" and not editor.full_check.isChecked()
    assert editor.max_chars.value() == 120
    assert [t.as_dict() for t in parse_spec(editor.spec_text()).terms] == [
        t.as_dict() for t in parse_spec(text).terms
    ]


def test_bad_options_are_named_and_ok_is_off(qtbot):
    dialog = RewardEditorDialog("[{kind: valid_json}]")
    qtbot.addWidget(dialog)
    assert dialog.ok_button.isEnabled()
    editor = dialog.editor
    editor.rows["regex"].tick.setChecked(True)
    qtbot.keyClicks(editor.pattern_edit, "(unclosed")
    assert "reward 2 (regex): pattern" in editor.error.text()
    assert not dialog.ok_button.isEnabled()
    editor.pattern_edit.clear()
    qtbot.keyClicks(editor.pattern_edit, r"\{.*\}")
    assert dialog.ok_button.isEnabled()
    assert "regex" in dialog.text()


def test_schema_offered_from_the_bundled_eval_set_scores_answers(qtbot, tmp_path):
    editor = RewardEditor()
    qtbot.addWidget(editor)
    assert editor.offer_schema_from(EVAL_SET)
    schema = json.loads(editor.schema_edit.toPlainText())
    assert schema["required"] == ["category", "priority", "summary"]
    assert "billing" in schema["properties"]["category"]["enum"]
    assert editor.rows["json_schema"].tick.isChecked()
    editor.answer_edit.setPlainText(
        '{"category": "billing", "priority": "high", "summary": "Charged twice."}'
    )
    preview = editor.score_typed_answer()
    assert preview.answers[0].scores == {"json_schema": 1.0}
    assert editor.table.item(0, 2).text() == "1.00"
    editor.answer_edit.setPlainText("The ticket is about billing.")
    assert editor.score_typed_answer().answers[0].scores == {"json_schema": 0.0}
    not_json = tmp_path / "plain.jsonl"
    not_json.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                ]
            }
        )
        + "\n"
    )
    assert not editor.offer_schema_from(not_json)
    assert "no schema to offer" in editor.schema_note.text()
    editor.resize(900, 760)
    editor.grab().save(str(tmp_path / "reward_editor.png"))


@pytest.mark.usefixtures("one_torch_thread")
def test_the_models_own_answers_are_sampled_and_scored(qtbot, project, tiny_model_dir, tmp_path):
    data = tmp_path / "t.jsonl"
    data.write_text(
        "\n".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": f"Ticket {i}"},
                        {"role": "assistant", "content": '{"team": "billing"}'},
                    ]
                }
            )
            for i in range(3)
        )
        + "\n"
    )
    config = TrainConfig(
        base_model=str(tiny_model_dir),
        train_file=str(data),
        method="lora",
        grpo_max_completion_length=6,
        validation_fraction=0.0,
    )
    editor = RewardEditor()
    qtbot.addWidget(editor)
    editor.config_provider = lambda rewards: (project, config)
    editor.set_spec_text("[{kind: valid_json}, {kind: length_penalty, max_chars: 5}]")
    editor.sample_model_answers()
    assert not editor.sample_button.isEnabled()  # one sampling at a time
    qtbot.waitUntil(lambda: editor.sample_button.isEnabled(), timeout=120_000)
    assert editor.table.rowCount() == 6  # 3 prompts x 2 answers
    assert editor.table.horizontalHeaderItem(2).text() == "valid_json"
    assert "answer tokens" in editor.preview_status.text()


def test_the_train_form_edits_rewards_through_the_dialog(qtbot, monkeypatch):
    from desktop.training import config_form
    from desktop.training.config_form import ConfigForm

    form = ConfigForm()
    qtbot.addWidget(form.widget)
    form.widget.show()
    assert not form.groups["GRPO"].isEnabled()  # an SFT recipe: GRPO's settings are off
    form.set_values({"stage": "grpo"})
    form._update_enabled()
    assert form.groups["GRPO"].isEnabled()

    def exec_(dialog):
        dialog.editor.rows["valid_json"].tick.setChecked(True)
        dialog.editor.rows["length_penalty"].tick.setChecked(True)
        return config_form.RewardEditorDialog.DialogCode.Accepted

    monkeypatch.setattr(config_form.RewardEditorDialog, "exec", exec_)
    qtbot.mouseClick(form.reward_button, Qt.MouseButton.LeftButton)
    config = form.config()
    assert config.stage == "grpo"
    assert [t.kind for t in parse_spec(config.rewards).terms] == ["valid_json", "length_penalty"]


def test_the_form_names_bad_rewards_before_start_without_running_user_code(qtbot, tmp_path):
    from desktop.training.config_form import ConfigForm

    form = ConfigForm()
    qtbot.addWidget(form.widget)
    form.set_values({"stage": "grpo"})
    assert "no rewards" in form.validate()["rewards"]
    marker = tmp_path / "ran"
    (tmp_path / "mine").mkdir()
    script = tmp_path / "mine" / "score.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\ndef reward(a, r):\n    return 1\n")
    form.set_values({"rewards": f"[{{kind: python, file: '{script}'}}]"})
    assert "trust its folder" in form.validate()["rewards"]
    from core.models.remote_code import trust_folder

    trust_folder(script.parent)
    assert "rewards" not in form.validate()
    assert not marker.exists()  # checked on every edit, never imported by the form
    form.set_values({"stage": "sft", "rewards": ""})
    assert "rewards" not in form.validate()  # an SFT run has no rewards to check


def test_the_schema_is_offered_from_the_projects_own_eval_sets(qtbot, project):
    """A new user's eval set lives in the project (the demo's does), not in a file they
    know: the offer lists the stored sets first, then a file."""
    from core.evaluation.eval_set import load_eval_set_file
    from core.evaluation.store import save_eval_set

    save_eval_set(project, load_eval_set_file(EVAL_SET))
    editor = RewardEditor()
    qtbot.addWidget(editor)
    editor.project_provider = lambda: project
    editor._fill_offer_menu()
    actions = [a for a in editor.offer_menu.actions() if not a.isSeparator()]
    assert [a.text() for a in actions][-1] == "From a JSONL file…"
    assert len(actions) == 2 and "examples)" in actions[0].text()
    actions[0].trigger()
    schema = json.loads(editor.schema_edit.toPlainText())
    assert schema["required"] == ["category", "priority", "summary"]
    assert editor.rows["json_schema"].tick.isChecked()
    assert "offered from" in editor.schema_note.text()


def test_sampling_works_on_a_new_grpo_recipe_whose_rewards_the_editor_writes(qtbot, project):
    """The form's rewards are empty (marked red) until the editor's OK, so the preview's
    recipe takes the editor's rewards instead of refusing with 'fix the settings'."""
    from desktop.training.config_form import ConfigForm

    form = ConfigForm()
    qtbot.addWidget(form.widget)
    form.project_provider = lambda: project
    form.set_values({"stage": "grpo", "train_file": str(EVAL_SET), "rewards": ""})
    assert form.config() is None and "rewards" in form.errors
    got_project, config = form.reward_preview_source("[{kind: valid_json}]")
    assert got_project is project
    assert (config.stage, config.rewards) == ("grpo", "[{kind: valid_json}]")
    form.set_values({"learning_rate": -1.0})  # a real problem elsewhere is still named
    with pytest.raises(ValueError, match="learning_rate"):
        form.reward_preview_source("[{kind: valid_json}]")


def test_your_own_python_is_trusted_from_the_editor_after_a_question(qtbot, tmp_path):
    """Untrusted reward code: the editor offers the way out as a button that asks first
    (not only a command to type); an empty path says to choose a file, not that the
    working folder is not a Python file."""
    folder = tmp_path / "my-rewards"
    folder.mkdir()
    (folder / "reward.py").write_text(
        "def reward(answer, reference):\n    return 0.5 if 'ok' in answer else 0.0\n"
    )
    editor = RewardEditor()
    qtbot.addWidget(editor)
    editor.show()
    editor.rows["python"].tick.setChecked(True)
    assert "no file given: choose the .py file" in editor.error.text()
    assert not editor.trust_button.isVisible()
    editor.file_edit.setText(str(folder / "reward.py"))
    editor._changed()
    assert "trust its folder" in editor.error.text() and editor.trust_button.isVisible()
    questions = []
    editor.confirm = lambda title, text: questions.append(text) or False
    assert not editor.trust_reward_folder()  # the user said no: still untrusted
    assert str(folder) in questions[0] and editor.trust_button.isVisible()
    editor.confirm = lambda title, text: True
    editor.trust_button.click()
    assert not editor.error.isVisible() and not editor.trust_button.isVisible()
    editor.answer_edit.setPlainText("ok then")
    assert editor.score_typed_answer().answers[0].total == 0.5
