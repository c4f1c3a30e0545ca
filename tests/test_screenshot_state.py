"""`finetune-studio screenshot` renders the same picture whatever the last session left:
it does not start from the saved page, opens the demo when asked, and writes nothing back
(window size, last page, recent projects)."""

from __future__ import annotations

from desktop.app import build_main_window
from desktop.launcher import main
from desktop.settings import app_settings

GEOMETRY = b"saved by the user's last session"


def _last_session(page: str, last_project: str | None = None) -> None:
    settings = app_settings()
    settings.setValue("window/page", page)
    settings.setValue("window/geometry", GEOMETRY)
    if last_project is not None:
        settings.setValue("last_project", last_project)
    settings.sync()


def test_a_screenshot_leaves_the_saved_window_and_recent_projects_alone(
    qapp, tmp_path, studio_home, project
):
    _last_session("dataset")
    out = tmp_path / "runs.png"

    command = ["screenshot", "--project", str(project.folder), "--page", "runs"]
    assert main([*command, "--out", str(out)]) == 0

    assert out.read_bytes()[:4] == b"\x89PNG"
    settings = app_settings()
    assert settings.value("window/page") == "dataset"  # the render wrote "runs" here
    assert bytes(settings.value("window/geometry")) == GEOMETRY
    assert not (studio_home / "config" / "recent_projects.json").exists()


def test_only_the_page_rendered_is_built_not_the_last_sessions_page(qapp):
    # The Dataset page, built first because the last session closed on it, put
    # "Opened support-tickets v1." in the status bar of a screenshot of the Train page.
    _last_session("dataset")
    window = build_main_window(first_page="runs", remember=False)
    try:
        assert window.nav.currentItem().data(0x0100) == "runs"  # Qt.UserRole
        assert set(window._pages) == {"runs"}
        assert window.statusBar().currentMessage() == ""
    finally:
        window.close()


def test_demo_opens_the_demo_not_the_project_opened_last(qapp, tmp_path, capsys):
    from core.project import create_project

    other = create_project(tmp_path / "other", name="Legal drafts")
    other.close()
    _last_session("project", last_project=str(other.folder))
    out = tmp_path / "shot.png"

    assert main(["screenshot", "--page", "project", "--out", str(out)]) == 0
    assert "project Legal drafts" in capsys.readouterr().out
    assert main(["screenshot", "--demo", "--page", "project", "--out", str(out)]) == 0
    assert "project Demo project" in capsys.readouterr().out
    # The app's own --demo, before the command, means the same.
    assert main(["--demo", "screenshot", "--page", "project", "--out", str(out)]) == 0
    assert "project Demo project" in capsys.readouterr().out


def test_the_train_page_is_grabbed_once_its_plan_is_read_not_while_reading(
    qapp, tmp_path, monkeypatch
):
    # A fixed second caught "Reading and tokenizing the data for the plan…" in the README's
    # picture of the Train page: reading the demo's data with SmolLM2's tokenizer takes
    # longer. What the plan panel said at the moment of the grab is recorded here.
    from PySide6.QtWidgets import QLabel

    from desktop import screenshot
    from desktop.background import tasks_running

    at_grab: dict[str, object] = {}

    def build(*args, **kwargs):
        window = build_main_window(*args, **kwargs)
        grab = window.grab

        def recording_grab(*grab_args):
            at_grab["plan"] = window.findChild(QLabel, "runPlanSummary").text()
            at_grab["tasks"] = tasks_running()
            return grab(*grab_args)

        window.grab = recording_grab
        return window

    monkeypatch.setattr(screenshot, "build_main_window", build)
    out = tmp_path / "training.png"

    assert main(["screenshot", "--demo", "--page", "training", "--out", str(out)]) == 0

    assert at_grab["tasks"] == 0
    assert "Reading and tokenizing" not in at_grab["plan"]
    assert "optimizer steps" in at_grab["plan"]  # the plan itself
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_waiting_to_settle_waits_for_a_tasks_result_and_gives_up_past_its_timeout(qtbot):
    import threading

    from PySide6.QtCore import QTimer

    from desktop.background import BackgroundTask, tasks_running
    from desktop.screenshot import wait_until_settled

    release = threading.Event()
    results: list[str] = []
    task = BackgroundTask(lambda report, cancelled: release.wait(60) and "read")
    task.succeeded.connect(results.append)
    task.start()
    try:
        # Still running past a (gross) timeout: not settled, and the result not in yet.
        assert not wait_until_settled(timeout_s=0.3)
        assert tasks_running() == 1 and results == []
        # Released while waiting (not before): settled only once its result is shown.
        QTimer.singleShot(100, release.set)
        assert wait_until_settled(timeout_s=60)
        assert results == ["read"] and tasks_running() == 0
    finally:
        release.set()
        task.wait()


def test_a_past_run_is_grabbed_with_its_curves_not_while_loading(qapp, tmp_path, monkeypatch):
    # With runs present the Train page caught "Loading <run>…" and empty charts.
    from recorded_run import add_recorded_run

    from core.project import create_project
    from core.runs.records import MetricRecord
    from desktop import screenshot
    from desktop.training.monitor import RunMonitor

    project = create_project(tmp_path / "with-run", name="With a run")
    records = [MetricRecord(step=step, loss=2.0 / step, learning_rate=1e-4) for step in (1, 2, 3)]
    add_recorded_run(project, "sft-run-1", records=records, steps_done=3, max_steps=3)
    project.close()
    at_grab: dict[str, object] = {}

    def build(*args, **kwargs):
        window = build_main_window(*args, **kwargs)
        grab = window.grab

        def recording_grab(*grab_args):
            monitor = window.findChild(RunMonitor)
            at_grab["status"] = monitor.status_label.text()
            at_grab["points"] = monitor.loss_chart.point_count()
            return grab(*grab_args)

        window.grab = recording_grab
        return window

    monkeypatch.setattr(screenshot, "build_main_window", build)
    out = tmp_path / "training.png"
    command = ["screenshot", "--project", str(project.folder), "--page", "training"]

    assert main([*command, "--out", str(out)]) == 0

    assert "Loading" not in at_grab["status"]
    assert "finished" in at_grab["status"]
    assert at_grab["points"] == 3


def test_past_its_timeout_the_page_is_grabbed_anyway_and_stderr_says_so(
    qtbot, tmp_path, project, capsys
):
    import threading

    from desktop.background import BackgroundTask

    release = threading.Event()
    task = BackgroundTask(lambda report, cancelled: release.wait(60))
    task.start()
    out = tmp_path / "project.png"
    command = ["screenshot", "--project", str(project.folder), "--page", "project"]
    try:
        assert main([*command, "--timeout", "0.3", "--out", str(out)]) == 0
    finally:
        release.set()
        task.wait()
    assert out.read_bytes()[:4] == b"\x89PNG"
    error = capsys.readouterr().err
    assert "page project still had background work after 0.3 s; grabbed it as it was" in error
