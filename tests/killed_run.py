"""A run killed with kill -9 mid-training, for the resume tests of every stage.

`kill_at_step` trains the recipe in a child process that stands for a machine dying
mid-run: at the given step it writes its run id and stops making progress, and is killed
with SIGKILL (no handler of ours runs). The test then resumes the run in its own process
and compares the whole record with an uninterrupted run's, step by step
(`assert_same_trajectory`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core.recipe.config import TrainConfig, save_config
from core.runs.record import load_run, read_metrics

REPO_ROOT = Path(__file__).resolve().parent.parent
CHILD_DEADLINE_S = 150  # a gross limit: the child should reach its step in seconds

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from core.project import open_project
    from core.recipe.config import load_config
    from core.training.observer import TrainingObserver
    from core.training.session import TrainingSession

    project_dir, config_path, marker, hang_at = sys.argv[1:5]

    class HangAtStep(TrainingObserver):
        # Stands for a machine that dies mid-run: it stops making progress and is killed.
        def on_progress(self, progress):
            if progress.step == int(hang_at):
                Path(marker).write_text(session.run_id)
                time.sleep(600)

    session = TrainingSession(open_project(project_dir), load_config(config_path), HangAtStep())
    session.run()
    """
)


def kill_at_step(project, config: TrainConfig, folder: Path, step: int) -> str:
    """Train `config` in a child process, kill it with SIGKILL once it reports `step`, and
    return the killed run's id. `folder` holds the child's recipe and marker file."""
    config_path = folder / "killed_run.yaml"
    save_config(config, config_path)
    marker = folder / "hanging"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            str(project.folder),
            str(config_path),
            str(marker),
            str(step),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # A child process has no signal to wait on: poll its marker file, within a gross limit.
        deadline = time.monotonic() + CHILD_DEADLINE_S
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, f"the child never reached step {step}"
            time.sleep(0.2)
        run_id = marker.read_text()
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
        child.stderr.close()
    return run_id


def train_records(project, run_id: str) -> list:
    """The run's training records as metrics.jsonl holds them (replayed: each step once)."""
    return [r for r in read_metrics(load_run(project, run_id)) if r.kind == "train"]


def assert_same_trajectory(records: list, reference: list, fields: tuple[str, ...]) -> None:
    """Each record's `fields` equal the uninterrupted run's at the same step."""
    expected = {r.step: r for r in reference if r.kind == "train"}
    for record in records:
        for name in fields:
            want = getattr(expected[record.step], name)
            assert getattr(record, name) == pytest.approx(want, rel=2e-3, abs=2e-3), (
                name,
                record.step,
            )
