"""Hostile faults during a real training run, round three: kill -9 while the final model is
saved, then --resume (it must end exactly like the uninterrupted run: no extra step, the
same final loss and weights), and the run folder or the whole project deleted while the
run trains (a clear error and a non-zero exit, never "finished")."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ticket_router_run import rows, tiny_lora_settings, write_jsonl

from desktop.launcher import main

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write_config(path: Path, model: Path, train_file: Path, **changes) -> Path:
    import yaml

    settings = tiny_lora_settings(model, train_file, **changes)
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


def train_cli(args: list[str], home: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env["FINETUNE_STUDIO_HOME"] = str(home)
    return subprocess.Popen(
        [sys.executable, "-m", "desktop.launcher", "train", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_of(project_folder: Path):
    from core.project import open_project
    from core.runs.record import list_runs

    project = open_project(project_folder)
    try:
        (run,) = list_runs(project)
        return run
    finally:
        project.close()


def final_weights(run_folder: Path) -> dict:
    from safetensors.torch import load_file

    (weights,) = sorted((run_folder / "final").glob("*.safetensors"))
    return load_file(weights)


def train_losses(run_folder: Path) -> dict[int, float]:
    losses = {}
    for line in (run_folder / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("kind") == "train":
            losses[record["step"]] = record["loss"]
    return losses


def test_kill_while_saving_the_final_model_then_resume_ends_like_the_uninterrupted_run(
    tmp_path, tiny_model_dir, studio_home
):
    # 28 examples in batches of 4: 7 steps an epoch, so step 30 ends no epoch (the case in
    # which transformers took a 31st step when resumed from the last step's checkpoint).
    train_file = write_jsonl(tmp_path / "train.jsonl", rows(28))
    config = write_config(
        tmp_path / "run.yaml", tiny_model_dir, train_file, max_steps=30, checkpoint_every_steps=10
    )
    reference = tmp_path / "reference"
    assert main(["train", str(config), "--project", str(reference)]) == 0
    expected = run_of(reference)
    assert expected.steps_done == 30

    killed = tmp_path / "killed"
    child = train_cli([str(config), "--project", str(killed)], studio_home)
    for line in child.stdout:
        if "saving the final model" in line:
            child.send_signal(signal.SIGKILL)
            break
    assert child.wait(timeout=300) == -signal.SIGKILL
    child.stdout.close()
    interrupted = run_of(killed)
    assert interrupted.status != "finished", "the kill came after the run had finished"
    assert (interrupted.folder / "checkpoints" / "checkpoint-30").is_dir()

    assert main(["train", "--resume", interrupted.run_id, "--project", str(killed)]) == 0
    resumed = run_of(killed)
    assert resumed.status == "finished"
    assert resumed.steps_done == 30 == expected.steps_done  # no 31st step
    assert max(train_losses(resumed.folder)) == 30
    assert resumed.final_train_loss == expected.final_train_loss
    assert train_losses(resumed.folder) == train_losses(expected.folder)
    want, got = final_weights(expected.folder), final_weights(resumed.folder)
    assert want.keys() == got.keys()
    for name, tensor in want.items():
        assert (got[name] == tensor).all(), name


@pytest.mark.parametrize("delete", ["run folder", "project"])
def test_deleting_the_run_or_project_while_training_stops_with_an_error(
    tmp_path, tiny_model_dir, studio_home, delete
):
    train_file = write_jsonl(tmp_path / "train.jsonl", rows(28))
    config = write_config(
        tmp_path / "run.yaml",
        tiny_model_dir,
        train_file,
        max_steps=400,
        checkpoint_every_steps=10,
        log_every_steps=1,
    )
    project = tmp_path / "project"
    child = train_cli([str(config), "--project", str(project)], studio_home)
    output = []
    for line in child.stdout:
        output.append(line)
        if line.startswith("step 3/"):
            (run_folder,) = (project / "runs").iterdir()
            shutil.rmtree(run_folder if delete == "run folder" else project)
            break
    output += child.stdout.readlines()
    code = child.wait(timeout=300)
    text = "".join(output)
    assert code != 0, text
    assert ": finished" not in text and "was deleted" in text, text
    assert "Traceback" not in text
    assert not project.exists() if delete == "project" else not run_folder.exists()
