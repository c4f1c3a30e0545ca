"""A run killed with SIGKILL resumes from its last checkpoint and follows the same loss
trajectory as a run that was never interrupted (model, optimizer, scheduler, RNG, data order)."""

from __future__ import annotations

import json

import pytest
from killed_run import assert_same_trajectory, kill_at_step, train_records

from core.recipe.config import TrainConfig
from core.runs.record import RunState, list_runs, load_run, read_metrics
from core.training.observer import CollectingObserver
from core.training.session import resume_run, run_training

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(model_dir, train_file) -> TrainConfig:
    return TrainConfig(
        base_model=str(model_dir),
        train_file=str(train_file),
        validation_fraction=0.0,
        method="lora",
        lora_r=8,
        lora_alpha=16,
        lora_dropout=0.1,  # random: the RNG state must be restored too
        epochs=2.5,
        micro_batch_size=4,
        gradient_accumulation=1,
        learning_rate=1e-2,
        max_seq_length=96,
        packing=False,
        checkpoint_every_steps=3,
        keep_checkpoints=2,
        preflight=False,
    )


def test_a_run_killed_with_sigkill_resumes_on_the_same_trajectory(
    project, tiny_model_dir, tmp_path
):
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Ticket {i}: which team?"},
                {"role": "assistant", "content": ["billing", "shipping", "login"][i % 3] + " team"},
            ]
        }
        for i in range(16)
    ]
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    config = _config(tiny_model_dir, train)

    # The uninterrupted reference run.
    reference = CollectingObserver()
    done = run_training(project, config, reference)
    assert done.status == "finished" and done.max_steps == 10

    # The same run in another process, killed at step 8 (last checkpoint: step 6, mid-epoch).
    run_id = kill_at_step(project, config, tmp_path, 8)

    killed = load_run(project, run_id)
    assert killed.status == RunState.INTERRUPTED and killed.resumable
    assert "crash, kill or power cut" in killed.reason
    assert [r.step for r in read_metrics(killed) if r.kind == "train"][-1] >= 7

    observer = CollectingObserver()
    result = resume_run(project, run_id, observer)
    assert result.status == "finished", result.reason
    assert result.steps_done == 10
    assert observer.progress[0].step == 7  # continued right after checkpoint-6
    resumed = {r.step: r.loss for r in observer.records if r.kind == "train"}
    assert sorted(resumed) == [7, 8, 9, 10]

    # The whole record: steps 1-6 from before the kill, 7-10 redone, each step once.
    records = train_records(project, run_id)
    assert [r.step for r in records] == list(range(1, 11))
    assert_same_trajectory(records, reference.records, ("loss",))
    assert {r.run_id: r.status for r in list_runs(project)}[run_id] == "finished"
    rows = (
        project.connection()
        .execute(
            "SELECT count(*) FROM training_metrics m JOIN training_runs r ON m.run = r.id "
            "WHERE r.run_id = ?",
            (run_id,),
        )
        .fetchone()[0]
    )
    assert rows == len(records)
