"""The Train page driving a real run of the tiny model on its QThread: the curves fill,
pause holds, resume goes on, stop saves and ends, and closing during a run stops it."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt, QThread
from PySide6.QtWidgets import QApplication, QMessageBox
from waiting import WORK_MS

from core.hardware import HardwareInfo
from core.models.registry import add_local_model
from core.runs.record import list_runs, read_metrics
from core.runs.records import Advice
from desktop.context import AppContext
from desktop.main_window import MainWindow
from desktop.training.page import TrainingPage

TEAMS = ["billing", "shipping", "login", "refund"]
RUN_TIMEOUT_MS = WORK_MS


def write_dataset(path, n=16):
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Ticket {i}: which team handles this?"},
                {"role": "assistant", "content": TEAMS[i % 4]},
            ]
        }
        for i in range(n)
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def page(qtbot, project, tiny_model_dir, tmp_path):
    add_local_model(project, tiny_model_dir, name="tiny")
    page = TrainingPage(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()
    yield page
    # Whatever a test did, never leave its training thread behind.
    page.host.shutdown(120)


def fill_form(qtbot, page, train_file, **changes):
    form = page.form
    base = form.editors["base_model"].editor
    base.setCurrentIndex(base.findData("tiny"))
    line = form.editors["train_file"].editor
    line.clear()
    qtbot.keyClicks(line, str(train_file))
    settings = {
        "method": "lora",
        "epochs": 50.0,
        "micro_batch_size": 4,
        "gradient_accumulation": 1,
        "learning_rate": 1e-2,
        "max_seq_length": 64,
        "packing": False,
        "validation_fraction": 0.25,
        "eval_every_steps": 3,
        "checkpoint_every_steps": 3,
        "lora_r": 8,
        "lora_alpha": 16,
        "preflight": False,
    }
    settings.update(changes)
    form.set_values(settings)
    assert form.config() is not None, form.errors


def train_points(page) -> int:
    return page.monitor.series["loss"].n


def test_start_curves_fill_pause_resume_stop(qtbot, page, tmp_path):
    fill_form(qtbot, page, write_dataset(tmp_path / "train.jsonl"))
    on_gui_thread = []
    page.host.metrics.connect(
        lambda _record: on_gui_thread.append(
            QThread.currentThread() is QApplication.instance().thread()
        )
    )
    qtbot.mouseClick(page.run_control.start_button, Qt.MouseButton.LeftButton)
    assert page.host.is_busy() and not page.run_control.start_button.isEnabled()
    assert not page.form.widget.isEnabled()

    # The curves fill: points reach the plot items, not only the buffers.
    qtbot.waitUntil(lambda: page.monitor.loss_chart.point_count() >= 4, timeout=RUN_TIMEOUT_MS)
    # The small charts are repainted in turn, a few times a second each.
    qtbot.waitUntil(lambda: page.monitor.lr_chart.point_count() >= 2, timeout=5000)
    qtbot.waitUntil(lambda: page.monitor.speed_chart.point_count() >= 2, timeout=5000)
    assert page.monitor.progress_bar.maximum() == 150
    # The step axis spans the whole run, so the user sees how far along it is.
    x_min, x_max = page.monitor.loss_chart.getPlotItem().viewRange()[0]
    assert x_min <= 0 and 150 <= x_max < 160
    assert (
        "step" in page.monitor.progress_bar.format() and "ETA" in page.monitor.progress_bar.format()
    )
    assert on_gui_thread and all(on_gui_thread)

    qtbot.mouseClick(page.monitor.pause_button, Qt.MouseButton.LeftButton)
    assert page.monitor.resume_button.isEnabled() and not page.monitor.pause_button.isEnabled()
    qtbot.waitUntil(lambda: page.monitor.status_label.text().startswith("Paused"), timeout=WORK_MS)
    held = train_points(page)
    qtbot.wait(1200)
    assert train_points(page) == held, "a paused run must not take steps"

    qtbot.keyClick(page, Qt.Key.Key_F5)  # F5 resumes a paused run
    qtbot.waitUntil(lambda: train_points(page) > held + 1, timeout=RUN_TIMEOUT_MS)
    assert page.monitor.pause_button.isEnabled()

    qtbot.mouseClick(page.monitor.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.host.is_busy(), timeout=RUN_TIMEOUT_MS)
    result = page.run_control.last_result
    assert result.status == "stopped" and 0 < result.steps_done < 150
    assert "Stopped after" in page.monitor.status_label.text()
    assert page.run_control.start_button.isEnabled() and page.form.widget.isEnabled()
    # The run is listed, shown, and can be continued from the checkpoint stop saved.
    combo = page.monitor.run_combo
    assert combo.currentData() == result.run_id
    assert page.monitor.continue_button.isEnabled()
    recorded = [r for r in read_metrics(result.folder) if r.kind == "train"]
    assert len(recorded) == train_points(page)


def test_closing_during_a_run_asks_then_stops_and_joins_the_thread(qtbot, page, tmp_path):
    fill_form(qtbot, page, write_dataset(tmp_path / "train.jsonl"))
    asked = []
    page.run_control.confirm_close = lambda: asked.append("no") or False
    assert page.run_control.start()
    qtbot.waitUntil(lambda: train_points(page) >= 1, timeout=RUN_TIMEOUT_MS)

    assert page.can_close() is False  # the user said no: the run goes on
    assert asked == ["no"] and page.host.is_running()

    page.run_control.confirm_close = lambda: asked.append("yes") or True
    assert page.can_close() is True
    assert asked == ["no", "yes"]
    assert not page.host.is_busy() and not page.host.is_running()
    run = list_runs(page.context.project)[0]
    assert run.status == "stopped" and "window closed" in run.reason


def test_a_run_that_cannot_start_says_why_and_leaves_nothing_running(qtbot, page, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n', encoding="utf-8")
    fill_form(qtbot, page, bad)
    assert page.run_control.start()
    qtbot.waitUntil(lambda: not page.host.is_busy(), timeout=RUN_TIMEOUT_MS)
    assert page.run_control.last_result.status == "failed"
    text = page.monitor.status_label.text()
    assert text.startswith("Failed:") and "line 1" in text
    assert page.run_control.start_button.isEnabled()


def test_the_overfitting_advice_stops_the_live_run_and_keeps_the_best(qtbot, page, tmp_path):
    fill_form(qtbot, page, write_dataset(tmp_path / "train.jsonl"))
    assert page.run_control.start()
    qtbot.waitUntil(lambda: train_points(page) >= 2, timeout=RUN_TIMEOUT_MS)
    # The advice arrives the way the session's advisor sends it: through the host's signal.
    page.host.advice.emit(
        Advice(
            step=2,
            severity="warning",
            kind="overfitting",
            title="Overfitting",
            message="Validation loss has risen since step 2.",
            action="stop_keep_best",
            action_label="Stop now and keep the step-2 checkpoint",
            details={"best_step": 2},
        )
    )
    card = page.monitor.advice_panel.cards[-1]
    assert card.button.isEnabled()
    assert [m.value() for m in page.monitor.loss_chart.markers] == [2]
    qtbot.mouseClick(card.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.host.is_busy(), timeout=RUN_TIMEOUT_MS)
    assert page.run_control.last_result.status == "stopped"
    assert "keeping the best checkpoint (step 2)" in page.run_control.last_result.reason
    assert not card.button.isEnabled()  # the run is over: nothing left to stop


def test_preflight_runs_real_steps_in_the_background_and_reports(qtbot, page, tmp_path):
    fill_form(qtbot, page, write_dataset(tmp_path / "train.jsonl"))
    qtbot.mouseClick(page.preflight.button, Qt.MouseButton.LeftButton)
    assert not page.run_control.start_button.isEnabled() and page.preflight.busy.isVisible()
    assert page.run_control.start() is False  # one thing at a time
    qtbot.waitUntil(lambda: page.preflight.task is None, timeout=RUN_TIMEOUT_MS)
    text = page.preflight.label.text()
    assert "The longest batch fits" in text and "GiB" in text, text
    assert page.run_control.start_button.isEnabled() and not page.preflight.busy.isVisible()


def test_quitting_the_window_during_a_run_asks_once_then_stops_it(
    qtbot, project, tiny_model_dir, tmp_path, monkeypatch
):
    add_local_model(project, tiny_model_dir, name="tiny")
    window = MainWindow(AppContext(project, HardwareInfo(cpu_cores=2)))
    qtbot.addWidget(window)
    window.show()
    page = window.show_page("training")
    fill_form(qtbot, page, write_dataset(tmp_path / "train.jsonl"))
    assert page.run_control.start()
    qtbot.waitUntil(lambda: train_points(page) >= 1, timeout=RUN_TIMEOUT_MS)

    asked = []
    yes, no = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[1]) or no)
    assert not window.close()  # No: the run goes on
    assert asked == ["Stop the training run?"] and page.host.is_running()

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[1]) or yes)
    assert window.close()
    assert len(asked) == 2  # asked once for this close
    assert not page.host.is_busy() and not page.host.is_running()
    run = list_runs(project)[0]
    assert run.status == "stopped" and "window closed" in run.reason


@pytest.fixture
def past_run(qtbot, page, tmp_path):
    """One finished run in the project, the newest the picker could replay."""
    from core.recipe.config import TrainConfig
    from core.training.session import run_training

    config = TrainConfig(
        base_model="tiny",
        train_file=str(write_dataset(tmp_path / "past.jsonl", n=8)),
        method="lora",
        epochs=1,
        micro_batch_size=4,
        max_seq_length=64,
        packing=False,
        validation_fraction=0.25,
        preflight=False,
        name="past run",
    )
    result = run_training(page.context.project, config)
    assert result.status == "finished", result.reason
    with qtbot.waitSignal(page.run_list.replay.loaded, timeout=WORK_MS):
        page.run_list.refresh()  # the visible page shows the newest run: this one
    return result.run_id


def test_a_run_refused_before_it_has_an_id_keeps_its_reason_on_screen(
    qtbot, page, past_run, tmp_path
):
    """DPO on a file of conversations: the run stops before it has a folder (so no id), the
    picker chose nothing, and the newest past run was replayed over the failure: the user
    saw no error."""
    fill_form(qtbot, page, write_dataset(tmp_path / "chats.jsonl"), stage="dpo")
    with qtbot.waitSignal(page.run_control.ended, timeout=RUN_TIMEOUT_MS) as ended:
        assert page.run_control.start()
    assert ended.args == [""]
    text = page.monitor.status_label.text()
    assert text.startswith("Failed: train_file: chats.jsonl holds conversations"), text
    assert page.run_list.replay.task is None  # nothing replays over it
    assert page.monitor.run_combo.currentData() != past_run
    assert "holds conversations" in page.run_control.start_hint.text()
    assert page.run_control.start_hint.isVisible()
    error = page.form.editors["train_file"].error
    assert error.isVisible() and error.text().startswith("chats.jsonl holds conversations")
    # What validates the form later, on its own timers or events, keeps the reason: the
    # settings' save and the estimate once typing rested, the plan, a project-events
    # refresh of the run list (the rest timer firing with the run's end cleared it).
    page.settings.save()
    page.update_estimate()
    with qtbot.waitSignal(page.plan_panel.updated, timeout=WORK_MS):
        page.plan_panel.update_plan()
    page.context.events.runs_changed.emit("")
    assert error.isVisible() and error.text().startswith("chats.jsonl holds conversations")
    page.hide()
    page.show()  # showing the page again does not replay the newest run either
    assert page.run_list.replay.task is None and page.monitor.status_label.text() == text
    assert error.isVisible()
    # Starting again drops it (the run gives its reason anew) ...
    with qtbot.waitSignal(page.run_control.ended, timeout=RUN_TIMEOUT_MS):
        assert page.run_control.start()
        assert not error.isVisible()
    assert error.isVisible() and error.text().startswith("chats.jsonl holds conversations")
    # ... and so does changing the field it names.
    line = page.form.editors["train_file"].editor
    line.clear()
    qtbot.keyClicks(line, str(tmp_path / "pairs.jsonl"))
    assert not error.isVisible()


def test_the_run_picker_names_the_live_run_once_it_has_an_id(qtbot, page, past_run, tmp_path):
    fill_form(qtbot, page, write_dataset(tmp_path / "train.jsonl"))
    combo = page.monitor.run_combo
    assert combo.currentData() == past_run
    with qtbot.waitSignal(page.run_control.identified, timeout=RUN_TIMEOUT_MS) as identified:
        assert page.run_control.start()
    live = identified.args[0]
    assert live and live != past_run and live == page.host.session.run_id
    assert combo.currentData() == live and "running" in combo.currentText()
    qtbot.waitUntil(lambda: train_points(page) >= 1, timeout=RUN_TIMEOUT_MS)
    with qtbot.waitSignal(page.run_control.ended, timeout=RUN_TIMEOUT_MS):
        page.run_control.stop()
    items = [combo.itemData(i) for i in range(combo.count())]
    assert combo.currentData() == live, (items, page.run_control.last_result)
