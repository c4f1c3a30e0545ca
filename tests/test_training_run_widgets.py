"""The pieces the Train page is composed of: the one worker-thread pattern hosting a run,
and the core text and choices its run control, run list and form lists show."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QThread

from core.dataset.model import Dataset, Example
from core.dataset.versions import save_version
from core.models.registry import list_base_models
from core.training.continuing import CONTINUE_TIP, why_not_continue
from core.training.form_choices import model_choice_text, version_choice_text
from core.training.observer import FAILED, FINISHED, STOPPED, RunResult
from core.training.status_text import ended_badly, ended_progress_text, run_choice_text
from desktop.background import BackgroundTask


def test_a_task_runs_on_a_thread_with_its_name(qtbot):
    """The training host names its thread (seen in debuggers and crash reports)."""
    task = BackgroundTask(
        lambda report, cancelled: QThread.currentThread().objectName(), name="named-work"
    )
    with qtbot.waitSignal(task.succeeded, timeout=10_000) as done:
        task.start()
    assert done.args == ["named-work"]
    task.wait()


def test_continue_says_why_not_for_no_run_a_live_run_and_an_unknown_run(project):
    assert why_not_continue(project, "", False).startswith("No run chosen")
    assert why_not_continue(project, "run-1", True).startswith("A run is training")
    assert why_not_continue(project, "no-such-run", False).startswith("Cannot continue")
    assert "last checkpoint" in CONTINUE_TIP


def test_how_an_ended_run_reads():
    def result(status, reason="", steps=0, max_steps=0):
        return RunResult(
            "run-1", Path("/runs/run-1"), status, reason, steps_done=steps, max_steps=max_steps
        )

    assert ended_progress_text(result(STOPPED, steps=40, max_steps=150)) == (
        "stopped · 40 of 150 steps"
    )
    assert ended_progress_text(result(FAILED)) == "failed"
    assert ended_badly(FAILED, "")
    assert ended_badly(STOPPED, "Out of memory: the guard stopped the run.")
    assert not ended_badly(STOPPED, "Stopped by the user.")
    assert not ended_badly(FINISHED, None)
    assert run_choice_text("lora tiny", FINISHED, "2026-01-31T14:05:09") == (
        "lora tiny · finished · 2026-01-31 14:05"
    )
    assert run_choice_text("new", "running", None) == "new · running · "


def test_the_form_names_models_and_versions(project):
    bundled = [m for m in list_base_models(project) if m.source == "bundled"]
    assert bundled and model_choice_text(bundled[0]) == f"{bundled[0].name} (bundled)"
    chats = [
        [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]
        for i in range(20)
    ]
    version = save_version(project, Dataset([Example.from_messages(m) for m in chats], "tickets"))
    text = version_choice_text(version)
    assert text.startswith("tickets v1 · ")
    assert f"{version.n_train:,} train, {version.n_valid:,} validation" in text
    assert version.n_train + version.n_valid == 20 and "DPO" not in text
