"""The Train page on a machine without a CUDA GPU (NVML mocked: no driver): the CPU preset,
RAM of this machine in the estimate, only the devices that exist; settings kept per
project; pre-flight progress and cancel; no stale pre-flight verdict; and a real tiny-model
run that the memory guard stops, with the advice shown, the app alive and Continue."""

from __future__ import annotations

import json
import sys
import types

import pytest
from PySide6.QtCore import Qt
from waiting import WORK_MS

from core.hardware import detect_hardware
from core.models.registry import add_local_model
from core.recipe.config import CPU_PRESET, TrainConfig
from core.runs.record import latest_checkpoint, list_runs
from core.training.memory_guard import MemoryLimits
from desktop.context import AppContext
from desktop.theme import BAD, status_style
from desktop.training.page import TrainingPage

GIB = 1024**3
TEAMS = ["billing", "shipping", "login", "refund"]
RUN_TIMEOUT_MS = WORK_MS


def fake_nvml(gpus):
    nvml = types.ModuleType("pynvml")
    if not gpus:

        def no_driver():
            raise RuntimeError("NVML Shared Library Not Found")

        nvml.nvmlInit = no_driver
        return nvml
    nvml.nvmlInit = lambda: None
    nvml.nvmlShutdown = lambda: None
    nvml.nvmlSystemGetDriverVersion = lambda: b"560.35.03"
    nvml.nvmlDeviceGetCount = lambda: len(gpus)
    nvml.nvmlDeviceGetHandleByIndex = lambda index: index
    nvml.nvmlDeviceGetName = lambda handle: gpus[handle][0]
    nvml.nvmlDeviceGetMemoryInfo = lambda handle: types.SimpleNamespace(
        total=gpus[handle][1], free=gpus[handle][1]
    )
    nvml.nvmlDeviceGetCudaComputeCapability = lambda handle: (8, 9)
    return nvml


@pytest.fixture
def cpu_only(monkeypatch):
    """This machine as the app sees it with no NVIDIA driver (NVML) and no CUDA (torch)."""
    import torch

    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml([]))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    return detect_hardware(use_torch=False)


def make_page(qtbot, project, hardware) -> TrainingPage:
    page = TrainingPage(AppContext(project, hardware))
    qtbot.addWidget(page)
    page.resize(1280, 860)
    page.show()
    return page


@pytest.fixture
def page(qtbot, project, tiny_model_dir, cpu_only):
    add_local_model(project, tiny_model_dir, name="tiny")
    page = make_page(qtbot, project, cpu_only)
    yield page
    page.host.shutdown(120)
    if page.preflight.task is not None:
        page.preflight.task.cancel()
        page.preflight.task.wait()


def write_dataset(path, n=24):
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


def fill_form(page, train_file, **changes):
    settings = {
        "base_model": "tiny",
        "train_file": str(train_file),
        "method": "lora",
        "epochs": 30.0,
        "micro_batch_size": 4,
        "gradient_accumulation": 1,
        "learning_rate": 1e-2,
        "max_seq_length": 64,
        "packing": False,
        "gradient_checkpointing": False,
        "validation_fraction": 0.0,
        "checkpoint_every_steps": 2,
        "lora_r": 4,
        "lora_alpha": 8,
        "preflight": False,
    }
    settings.update(changes)
    page.form.set_values(settings)
    assert page.form.config() is not None, page.form.errors


# --- this machine -----------------------------------------------------------------------


def test_cpu_only_machine_starts_from_the_cpu_preset_and_offers_only_its_devices(
    qtbot, project, cpu_only
):
    import psutil

    page = make_page(qtbot, project, cpu_only)
    device = page.form.editors["device"].editor
    assert [device.itemText(i) for i in range(device.count())] == ["auto", "cpu"]
    config = page.form.config()
    for name, value in CPU_PRESET.changes.items():
        assert getattr(config, name) == value, name
    page.update_estimate()
    headline = page.estimate_box.estimate_label.text()
    total_gib = psutil.virtual_memory().total / GIB
    assert "GiB of RAM on this machine" in headline and f"of {total_gib:.0f} GiB free" in headline
    assert "RTX" not in headline and "fits" in headline
    assert "trains on the CPU" in page.estimate_box.estimate_details.text()
    page.grab().save("/tmp/train-page-cpu-preset.png")


def test_a_cuda_machine_is_offered_cuda_and_the_guide_defaults(qtbot, project, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml([("NVIDIA GeForce RTX 4090", 24 * GIB)]))
    page = make_page(qtbot, project, detect_hardware(use_torch=False))
    device = page.form.editors["device"].editor
    assert "cuda" in [device.itemText(i) for i in range(device.count())]
    assert page.form.config() == TrainConfig()
    page.update_estimate()
    assert "on this GPU" in page.estimate_box.estimate_label.text()


def test_settings_are_kept_per_project_and_restored(qtbot, project, cpu_only, tmp_path):
    from core.project import create_project

    page = make_page(qtbot, project, cpu_only)
    page.form.editors["max_seq_length"].editor.setValue(384)
    page.form.editors["lora_r"].editor.setValue(8)
    qtbot.waitUntil(lambda: "max_seq_length: 384" in (project.get_meta("train_settings") or ""))

    again = make_page(qtbot, project, cpu_only)
    config = again.form.config()
    assert (config.max_seq_length, config.lora_r) == (384, 8)

    other = create_project(tmp_path / "other", name="Other")
    try:
        fresh = make_page(qtbot, other, cpu_only)
        assert fresh.form.config().max_seq_length == 512  # a new project: the CPU preset
    finally:
        other.close()


# --- pre-flight ---------------------------------------------------------------------------


def test_preflight_shows_its_steps_and_can_be_cancelled(qtbot, page, tmp_path):
    fill_form(page, write_dataset(tmp_path / "train.jsonl"))
    messages: list[str] = []
    qtbot.mouseClick(page.preflight.button, Qt.MouseButton.LeftButton)
    page.preflight.task.progress.connect(lambda _f, text: messages.append(text))

    def picture(_fraction, text):  # what the user sees mid-check, for a look afterwards
        if "step 2 of 3" in text:
            page.grab().save("/tmp/train-page-preflight.png")

    page.preflight.task.progress.connect(picture)
    assert page.preflight.button.text() == "Cancel pre-flight"
    assert page.preflight.busy.isVisible() and not page.run_control.start_button.isEnabled()
    qtbot.waitUntil(lambda: page.preflight.task is None, timeout=RUN_TIMEOUT_MS)
    assert any("loading the model" in m for m in messages), messages
    assert any("step 3 of 3" in m for m in messages), messages
    assert "The longest batch fits" in page.preflight.label.text()

    # Cancelled at once: the worker sees it at its first check.
    qtbot.mouseClick(page.preflight.button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(page.preflight.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.preflight.task is None, timeout=RUN_TIMEOUT_MS)
    assert page.preflight.label.text().startswith("Pre-flight cancelled")
    assert page.preflight.button.text() == "Pre-flight check"
    assert page.preflight.button.isEnabled() and page.run_control.start_button.isEnabled()


def test_a_failed_preflight_verdict_does_not_outlive_the_next_run(qtbot, page, tmp_path):
    fill_form(page, write_dataset(tmp_path / "train.jsonl"), base_model=str(tmp_path / "gone"))
    page.run_preflight()
    qtbot.waitUntil(lambda: page.preflight.task is None, timeout=RUN_TIMEOUT_MS)
    assert page.preflight.label.isVisible()
    assert page.preflight.label.text().startswith("Pre-flight failed")

    fill_form(page, write_dataset(tmp_path / "train.jsonl"), epochs=1.0)
    with qtbot.waitSignal(page.host.thread_finished, timeout=RUN_TIMEOUT_MS):
        assert page.run_control.start()
    assert page.run_control.last_result.status == "finished", page.run_control.last_result.reason
    assert not page.preflight.label.isVisible()
    assert "Pre-flight failed" not in page.preflight.label.text()


# --- the memory guard in the app ----------------------------------------------------------


def test_the_guard_stops_a_run_that_outgrows_its_limit_and_the_app_goes_on(qtbot, page, tmp_path):
    fill_form(page, write_dataset(tmp_path / "train.jsonl"))
    with qtbot.waitSignal(page.host.checkpoint, timeout=RUN_TIMEOUT_MS):
        assert page.run_control.start()
    # Any process with torch loaded holds more than 1 % of RAM: the guard trips at once.
    page.host.session.memory_guard.limits = MemoryLimits(
        min_available_percent=0, max_rss_percent=1, interval_s=0.05
    )
    qtbot.waitSignal(page.host.thread_finished, timeout=RUN_TIMEOUT_MS).wait()
    if page.host.is_busy():
        qtbot.waitSignal(page.host.thread_finished, timeout=RUN_TIMEOUT_MS).wait()

    result = page.run_control.last_result
    assert result.status == "stopped" and result.reason.startswith("Out of memory")
    assert latest_checkpoint(result.folder) is not None
    status = page.monitor.status_label.text()
    assert status.startswith("Stopped after") and "Out of memory" in status
    assert page.monitor.status_label.styleSheet() == status_style(BAD)
    card = page.monitor.advice_panel.cards[-1]
    assert card.advice.title == "Stopped: out of memory"
    assert card.button is not None and card.button.isEnabled()
    page.grab().save("/tmp/train-page-out-of-memory.png")

    # The app is alive: the advice sets up the next attempt, and Continue resumes the
    # run from its checkpoint with those settings and the default guard.
    qtbot.mouseClick(card.button, Qt.MouseButton.LeftButton)
    assert page.form.config().micro_batch_size == 2
    assert page.monitor.continue_button.isEnabled()
    with qtbot.waitSignal(page.host.thread_finished, timeout=RUN_TIMEOUT_MS):
        assert page.continue_run()
    assert page.run_control.last_result.run_id == result.run_id
    assert page.run_control.last_result.status == "finished", page.run_control.last_result.reason
    assert load_config_of(page, result.run_id).micro_batch_size == 2


def load_config_of(page, run_id):
    from core.runs.record import load_run

    return load_run(page.context.project, run_id).config()


def test_continue_says_why_when_there_is_no_checkpoint(qtbot, page, tmp_path):
    fill_form(page, write_dataset(tmp_path / "train.jsonl"), memory_stop_rss_percent=1)
    with qtbot.waitSignal(page.host.thread_finished, timeout=RUN_TIMEOUT_MS):
        assert page.run_control.start()
    result = page.run_control.last_result
    assert result.status == "stopped" and "before the first training step" in result.reason
    assert [run.status for run in list_runs(page.context.project)] == ["stopped"]
    button = page.monitor.continue_button
    assert not button.isEnabled()
    assert "before its first checkpoint" in button.toolTip()
    assert page.continue_run() is False
    assert "nothing to continue from" in page.monitor.status_label.text()
