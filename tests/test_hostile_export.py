"""Two exports into one folder at the same moment: the first holds the folder, the second
is refused at once (exit 1, one line), and every "exported to" message is true: the
folder holds the format its export.json and the winner's result say. Real exports of a
real tiny LoRA run; the rival is a second real process or a second export started while
the first is running."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ticket_router_run import train_ticket_router

from core.export.exporter import export_run
from core.export.options import ExportOptions
from core.output_lock import OutputBusyError, lock_path, output_lock
from desktop.launcher import main

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("hostile-export")
    project, run_id = train_ticket_router(root, tiny_model_dir, max_steps=2, project_name="Race")
    yield project, run_id
    project.close()


def exported_format(folder: Path) -> str:
    return json.loads((folder / "export.json").read_text())["format"]


def test_an_export_started_while_another_writes_the_folder_is_refused(trained, tmp_path):
    project, run_id = trained
    out = tmp_path / "shared"
    export_run(project, run_id, ExportOptions(format="adapter", out_dir=str(out)))
    rival: dict = {}

    def first_progress(fraction: float, message: str) -> None:
        # The first export has the folder now: start the second one in the middle of it.
        if "rival" not in rival:
            try:
                rival["result"] = export_run(
                    project,
                    run_id,
                    ExportOptions(format="adapter", out_dir=str(out), overwrite=True),
                )
            except OutputBusyError as error:
                rival["refused"] = str(error)

    result = export_run(
        project,
        run_id,
        ExportOptions(format="merged", out_dir=str(out), overwrite=True),
        progress=first_progress,
    )
    assert "result" not in rival, "both exports claimed the folder"
    assert str(out) in rival["refused"] and "another export" in rival["refused"]
    assert result.folder == out and result.format == "merged"
    assert exported_format(out) == "merged"  # the winner's message is true
    assert not lock_path(out).exists()  # released and removed
    again = export_run(
        project, run_id, ExportOptions(format="adapter", out_dir=str(out), overwrite=True)
    )
    assert again.format == "adapter" and exported_format(out) == "adapter"


def test_a_second_process_holding_the_folder_refuses_the_cli_export(trained, tmp_path, capsys):
    project, run_id = trained
    out = tmp_path / "shared"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from core.output_lock import output_lock\n"
            f"with output_lock({str(out)!r}):\n"
            "    print('locked', flush=True)\n"
            "    sys.stdin.read()\n",  # holds the lock until the test closes stdin
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        args = ["export", run_id, "--project", str(project.folder), "--to", "adapter"]
        assert main([*args, "--out", str(out), "--overwrite"]) == 1
        err = capsys.readouterr().err
        assert err.count("error:") == 1 and "another export" in err
        assert f"process {holder.pid}" in err
        assert not out.exists()
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert main([*args, "--out", str(out), "--overwrite"]) == 0  # free again once it ended
    assert exported_format(out) == "adapter"


def test_a_killed_holder_leaves_no_lock_behind(tmp_path):
    out = tmp_path / "target"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal\n"
            "from core.output_lock import output_lock\n"
            f"with output_lock({str(out)!r}):\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n",
        ],
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == -9
    with output_lock(out):  # the OS dropped the dead process's lock
        pass


def test_export_out_inside_the_project_is_bad_input(trained, capsys):
    project, run_id = trained
    out = project.folder / "runs" / "mine"
    args = ["export", run_id, "--project", str(project.folder), "--to", "adapter"]
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "exports" in err
    assert not out.exists()
