"""The Export dialog driven with qtbot: export a real run in the background with parity, see
the result and the card path; cancel half-way; a non-empty folder is refused up front."""

from __future__ import annotations

import pytest
from ticket_router_run import rows, train_ticket_router, write_jsonl
from waiting import WORK_MS

from core.hardware import HardwareInfo


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    from core.evaluation.eval_set import load_eval_set_file
    from core.evaluation.store import save_eval_set

    root = tmp_path_factory.mktemp("export-dialog")
    project, run_id = train_ticket_router(root, tiny_model_dir, max_steps=3, project_name="Dialog")
    eval_set = load_eval_set_file(write_jsonl(root / "eval.jsonl", rows(4, 30)), name="tickets")
    save_eval_set(project, eval_set)
    yield project, run_id
    project.close()


@pytest.fixture
def dialog(qtbot, trained):
    from desktop.context import AppContext
    from desktop.export.dialog import ExportDialog

    project, run_id = trained
    widget = ExportDialog(AppContext(project, HardwareInfo(cpu_cores=2)), run_id)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_export_in_the_background_shows_parity_and_the_card(dialog, qtbot, tmp_path):
    from PySide6.QtCore import Qt

    assert dialog.format_buttons["adapter"].isChecked()  # an adapter run starts on adapter
    assert dialog.folder_edit.text().endswith("exports/ticket-router-adapter")
    assert "PEFT" in dialog.format_buttons["adapter"].text()
    assert "interrupted export" in dialog.folder_edit.toolTip()
    assert dialog.parity_choice.currentText().startswith("tickets (4 prompts)")
    dialog.format_buttons["merged"].setChecked(True)
    assert dialog.folder_edit.text().endswith("ticket-router-merged")
    assert not dialog.gguf_type.isVisible()
    dialog.format_buttons["gguf"].setChecked(True)
    assert dialog.gguf_type.isVisible() and "built-in GGUF writer" in dialog.converter_label.text()
    dialog.format_buttons["adapter"].setChecked(True)
    out = tmp_path / "my-adapter"
    dialog.folder_edit.clear()
    qtbot.keyClicks(dialog.folder_edit, str(out))

    with qtbot.waitSignal(dialog.exported, timeout=WORK_MS) as exported:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
        assert dialog.is_running() and not dialog.export_button.isEnabled()
        assert dialog.progress.isVisible() and dialog.cancel_button.isVisible()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=WORK_MS)
    result = exported.args[0]
    assert result.folder == out and (out / "adapter_config.json").is_file()
    assert dialog.parity_label.text().startswith("Parity passed: all 4 answers")
    assert str(out / "README.md") in dialog.card_label.text() and dialog.card_row.isVisible()
    assert not dialog.progress.isVisible() and dialog.export_button.isEnabled()


def test_cancel_half_way_leaves_no_folder(dialog, qtbot, tmp_path):
    from PySide6.QtCore import Qt

    out = tmp_path / "merged"
    dialog.format_buttons["merged"].setChecked(True)
    dialog.folder_edit.setText(str(out))
    fractions = []

    def cancel_half_way(fraction, _message):
        fractions.append(fraction)
        if fraction >= 0.45 and dialog.cancel_button.isVisible():
            qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)

    assert dialog.start_export()
    dialog.task.progress.connect(cancel_half_way)
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=WORK_MS)
    assert max(fractions) >= 0.45 and not out.exists()
    assert "Cancelled" in dialog.status_label.text() and dialog.result is None
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".merged")]


def test_a_non_empty_folder_is_refused_before_starting(dialog, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    dialog.folder_edit.setText(str(out))
    assert not dialog.start_export() and not dialog.is_running()
    assert "not empty" in dialog.status_label.text()
    dialog.overwrite.setChecked(True)
    assert dialog.options().overwrite


@pytest.mark.parametrize("where", ["project", "run"])
def test_the_project_and_the_run_are_refused_even_with_overwrite(dialog, trained, where):
    import os

    project, run_id = trained
    target = project.folder if where == "project" else project.runs_dir / run_id
    before = sorted(p.relative_to(project.folder) for p in project.folder.rglob("*"))
    dialog.folder_edit.setText(str(target))
    dialog.overwrite.setChecked(True)
    assert not dialog.start_export() and not dialog.is_running()
    assert "project" in dialog.status_label.text() and str(target) in dialog.status_label.text()
    after = sorted(p.relative_to(project.folder) for p in project.folder.rglob("*"))
    assert [p for p in before if p not in after] == []  # nothing of the project went away
    if os.environ.get("FINETUNE_STUDIO_SCREENSHOTS"):
        from PySide6.QtWidgets import QApplication

        QApplication.processEvents()  # let the layout take the wrapped message's height
        dialog.grab().save(os.environ["FINETUNE_STUDIO_SCREENSHOTS"] + f"/export-{where}.png")
