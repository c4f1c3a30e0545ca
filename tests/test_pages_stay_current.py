"""Pages never show stale project state: the three cases seen in a real X11 walk.

(a) a run finished while Evaluate was open -> Evaluate lists it (not "No training runs yet");
(b) a dataset version just saved -> Train offers it at once;
(c) a restart (a new main window on the same project) -> Train shows the last run, not
    "No run yet".
Plus: a run another process (the CLI) finishes in the project shows on Evaluate.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox
from ticket_router_run import tiny_lora_settings
from waiting import WORK_MS

from core.dataset.model import Dataset, Example
from core.dataset.versions import save_version
from core.hardware import HardwareInfo
from core.recipe.config import TrainConfig, save_config
from core.training.session import run_training
from desktop.context import AppContext
from desktop.evaluation.page import EvaluatePage
from desktop.main_window import MainWindow
from desktop.training.page import TrainingPage

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(tiny_model_dir, tmp_path, name) -> TrainConfig:
    train_file = tmp_path / f"{name}.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
        for i in range(4)
    ]
    train_file.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return TrainConfig(**tiny_lora_settings(tiny_model_dir, train_file, max_steps=2, name=name))


def _listed_runs(page: EvaluatePage) -> list[str]:
    runs = page.model_choice.runs_list
    return [runs.item(row).text() for row in range(runs.count())]


def test_a_run_that_finishes_while_evaluate_is_open_is_listed_there(
    qtbot, project, tiny_model_dir, tmp_path
):
    page = EvaluatePage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.show()
    assert page.model_choice.no_runs_label.isVisible()  # "No training runs yet"

    result = run_training(project, _config(tiny_model_dir, tmp_path, "fresh run"))
    assert result.status == "finished", result.reason

    qtbot.waitUntil(lambda: len(_listed_runs(page)) == 1, timeout=WORK_MS)
    assert "fresh run" in _listed_runs(page)[0]
    assert not page.model_choice.no_runs_label.isVisible()
    assert page.model_choice.runs_list.isVisible()


def test_a_run_another_process_finishes_shows_on_evaluate(qtbot, project, tiny_model_dir, tmp_path):
    page = EvaluatePage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.show()
    config = _config(tiny_model_dir, tmp_path, "cli run")
    config_path = tmp_path / "cli.yaml"
    save_config(config, config_path)
    cli = Path(sys.executable).parent / "finetune-studio"
    done = subprocess.run(
        [str(cli), "train", str(config_path), "--project", str(project.folder), "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # The bridge polls the project's change log: no refresh, no restart.
    qtbot.waitUntil(lambda: len(_listed_runs(page)) == 1, timeout=WORK_MS)
    assert "cli run" in _listed_runs(page)[0]


def test_a_dataset_version_just_saved_is_offered_on_train_at_once(qtbot, project):
    page = TrainingPage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.show()
    combo = page.form.editors["dataset_version"].editor
    assert combo.count() == 1  # "none saved yet (Dataset page)"

    chats = [
        [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]
        for i in range(6)
    ]
    version = save_version(project, Dataset([Example.from_messages(m) for m in chats], "tickets"))

    qtbot.waitUntil(lambda: combo.findData(str(version.id)) >= 0, timeout=WORK_MS)
    assert "tickets v1" in combo.itemText(combo.findData(str(version.id)))
    # The form had no data yet: the first version is chosen (not "none: use the file").
    assert page.form.values()["dataset_version"] == str(version.id)


def test_after_a_restart_train_shows_the_last_run(
    qtbot, project, tiny_model_dir, tmp_path, monkeypatch
):
    result = run_training(project, _config(tiny_model_dir, tmp_path, "yesterday's run"))
    assert result.status == "finished", result.reason

    # The app starts again on this project: a new main window.
    window = MainWindow(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(window)
    window.show()
    page = window.show_page("training")
    monitor = page.monitor
    qtbot.waitUntil(lambda: "yesterday's run" in monitor.status_label.text(), timeout=WORK_MS)
    assert "No run yet" not in monitor.status_label.text()
    assert "finished" in monitor.status_label.text()
    assert monitor.run_combo.currentData() == result.run_id
    qtbot.waitUntil(lambda: monitor.loss_chart.point_count() > 0, timeout=WORK_MS)
    # Quitting with no run training asks nothing about stopping one.
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or None)
    assert window.close()
    assert asked == []


def test_a_version_saved_elsewhere_joins_the_dataset_pages_versions_tab(qtbot, project):
    from desktop.dataset.page import DatasetPage

    page = DatasetPage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.show()
    assert page.versions_panel.table.rowCount() == 0
    chats = [
        [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]
        for i in range(6)
    ]
    save_version(project, Dataset([Example.from_messages(m) for m in chats], "cli-made"))
    qtbot.waitUntil(lambda: page.versions_panel.table.rowCount() == 1, timeout=WORK_MS)
