"""The Runs page driven as a user would, on runs written as core.training records them:
the empty state, editing with undo, delete with its leftovers, the Spend tab, exports,
and a 200-run project opening well within a gross time limit."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from recorded_run import add_recorded_run

from core.hardware import HardwareInfo
from core.history.spend import list_expert_hours
from core.history.spend_settings import load_settings
from core.recipe.config import TrainConfig, config_to_yaml
from core.runs.record import load_run
from core.runs.records import MetricRecord
from core.runs.store import get_note
from desktop.context import AppContext
from desktop.runs.page import TAB_COMPARE, TAB_SPEND, RunsPage
from desktop.runs.runs_table import column

H100 = "CUDA GPU (NVIDIA H100 80GB HBM3), bf16"


def add_run(project, run_id, *, points=3, **values) -> str:
    """A finished run with `points` train steps and one evaluation, half an hour on an H100."""
    records = [
        MetricRecord(step=s, epoch=s / points, loss=3.0 / s, tokens_seen=64 * s)
        for s in range(1, points + 1)
    ]
    records.append(MetricRecord(step=points, kind="eval", epoch=1.0, eval_loss=1.5))
    values = {"device": H100, "duration_s": 1800.0, "best_val_loss": 1.5, **values}
    return add_recorded_run(project, run_id, records=records, **values)


def open_page(qtbot, project) -> RunsPage:
    page = RunsPage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()
    page.activateWindow()
    return page


def cell(page, run_id, key):
    model = page.runs_view.model
    return model.data(model.index(model.row_of(run_id), column(key)))


def test_an_empty_project_says_what_the_page_is_for(qtbot, project):
    page = open_page(qtbot, project)
    assert page.stack.currentWidget() is page.empty_state
    assert "No runs yet" in page.empty_state.findChildren(type(page.title))[0].text()
    assert page.spend_label.text().startswith("0 runs")
    page.empty_budget_button.click()
    assert page.stack.currentWidget() is page.tabs and page.tabs.currentIndex() == TAB_SPEND
    page.wait_for_background()


def test_rename_and_note_in_the_table_with_undo(qtbot, project):
    add_run(project, "r1", name="first")
    page = open_page(qtbot, project)
    model = page.runs_view.model
    row = model.row_of("r1")
    assert model.setData(model.index(row, column("name")), "rank 16 try")
    assert load_run(project, "r1").name == "rank 16 try" == cell(page, "r1", "name")
    assert model.setData(model.index(row, column("note")), "lowest loss, but verbose")
    assert get_note(project, "r1") == "lowest loss, but verbose"
    assert not model.setData(model.index(row, column("name")), "   ")  # a name is required
    page.undo_stack.undo()
    assert get_note(project, "r1") == "" and cell(page, "r1", "note") == ""
    page.undo_stack.undo()
    assert load_run(project, "r1").name == "first" == cell(page, "r1", "name")
    page.undo_stack.redo()
    assert cell(page, "r1", "name") == "rank 16 try"
    page.wait_for_background()


def test_delete_from_the_page_and_clean_leftovers(qtbot, project, monkeypatch):
    for run_id in ("a", "b", "c"):
        add_run(project, run_id)
    page = open_page(qtbot, project)
    page.runs_view.select_runs(["a"])
    assert page.runs_view.delete_button.isEnabled()
    assert page.delete_runs(["a"]) == []
    assert page.runs_view.model.row_of("a") is None and page.runs_view.model.rowCount() == 2

    from core.runs import store

    monkeypatch.setattr(
        store, "remove_run_folder", lambda folder: (_ for _ in ()).throw(OSError("busy"))
    )
    problems = page.delete_runs(["b"])
    assert len(problems) == 1 and "leftover" in problems[0]
    assert page.runs_view.model.row_of("b") is None
    assert not page.runs_view.leftover_bar.isHidden()
    monkeypatch.undo()
    page.runs_view.leftover_button.click()
    assert page.runs_view.leftover_bar.isHidden() and not (project.runs_dir / "b").exists()
    page.wait_for_background()


def test_filter_by_status_and_text(qtbot, project):
    add_run(project, "ok-1")
    add_run(project, "oom", status="failed", status_reason="CUDA out of memory. Lower the batch.")
    page = open_page(qtbot, project)
    view = page.runs_view
    assert cell(page, "oom", "status") == "failed: CUDA out of memory"
    view.status_combo.setCurrentIndex(view.status_combo.findData("failed"))
    assert view.proxy.rowCount() == 1
    view.status_combo.setCurrentIndex(0)
    view.filter_edit.setText("ok-")
    assert view.proxy.rowCount() == 1
    view.filter_edit.setText("qlora smollm2")
    assert view.proxy.rowCount() == 2
    page.wait_for_background()


def test_spend_tab_sets_a_budget_and_records_expert_hours(qtbot, project):
    add_run(project, "r1", duration_s=3600.0)
    page = open_page(qtbot, project)
    page.tabs.setCurrentIndex(TAB_SPEND)
    spend = page.spend_view
    spend.budget_spin.setValue(50.0)
    spend.rate_spin.setValue(75.0)
    spend.save_button.click()
    assert load_settings(project).budget == 50.0
    assert "of $50.00 budget" in page.spend_label.text()
    assert spend.budget_bar.value() > 0 and "of $50.00" in spend.budget_bar.format()
    spend.hours_spin.setValue(4.0)
    qtbot.keyClicks(spend.activity_edit, "reviewed 80 answers")
    qtbot.keyClick(spend.activity_edit, Qt.Key.Key_Return)
    [entry] = list_expert_hours(project)
    assert (entry.hours, entry.hourly_rate, entry.activity) == (4.0, 75.0, "reviewed 80 answers")
    assert spend.entries.rowCount() == 1 and spend.entries.item(0, 3).text() == "$300.00"
    assert "4 h ($300.00)" in page.spend_label.text()
    spend.hours_spin.setValue(0.0)
    spend.record_button.click()
    assert "more than 0" in spend.entry_problem.text() and len(list_expert_hours(project)) == 1
    spend.entries.selectRow(0)
    spend.remove_button.click()
    assert list_expert_hours(project) == []
    page.wait_for_background()


def test_export_csv_from_the_page(qtbot, project, tmp_path):
    add_run(project, "r1")
    page = open_page(qtbot, project)
    assert page.export_csv("r1", str(tmp_path / "r1.csv")) == 4
    assert (tmp_path / "r1.csv").read_text().startswith("step,kind,epoch,loss")
    page.wait_for_background()


def test_export_menu_opens_the_model_export_dialog_for_a_run(qtbot, project):
    add_run(project, "r1")
    page = open_page(qtbot, project)
    titles = [action.text() for action in page.runs_view.export_button.menu().actions()]
    assert titles[0].startswith("Model: adapter, merged or GGUF")
    dialog = page.export_model_dialog("r1")
    qtbot.addWidget(dialog)
    assert dialog.isVisible()
    dialog.reject()
    page.wait_for_background()


@pytest.mark.slow
def test_two_hundred_runs_open_quickly_and_only_selected_curves_are_read(qtbot, project):
    for number in range(200):
        add_run(project, f"run-{number:03d}", points=50)
    page = open_page(qtbot, project)  # how fast: benchmarks/runs_page_open.py
    assert page.runs_view.model.rowCount() == 200
    from core.runs import curves

    curves._cache.clear()
    page.compare_runs(["run-000", "run-001"])
    assert page.tabs.currentIndex() == TAB_COMPARE
    assert len(curves._cache) == 2  # the two selected runs' files, no other
    page.wait_for_background()


def test_the_stage_shows_without_scrolling(qtbot, project):
    """SFT+DPO against SFT is what a user compares first: the Method column (with the
    stage) sits beside Status, inside the table's view at the page's usual width."""
    add_run(project, "sft-1")
    dpo = TrainConfig(
        base_model="SmolLM2-135M-Instruct", train_file="/d/p.jsonl", stage="dpo", start_from="sft-1"
    )
    add_run(project, "dpo-1", config_yaml=config_to_yaml(dpo))
    page = open_page(qtbot, project)
    page.wait_for_background()
    assert cell(page, "dpo-1", "method").endswith(", SFT+DPO")
    assert "SFT" not in cell(page, "sft-1", "method")
    table = page.runs_view.table
    right_edge = table.columnViewportPosition(column("method")) + table.columnWidth(
        column("method")
    )
    assert table.columnViewportPosition(column("method")) >= 0
    assert right_edge <= table.viewport().width()
