"""The trainer for real on the tiny model: full, LoRA, QLoRA and 8-bit LoRA on the CPU, the run
folder and database rows, stop and pause from another thread, and an injected out-of-memory."""

from __future__ import annotations

import json
import threading

import pytest
from ticket_router_run import tiny_lora_settings

from core.recipe.config import TrainConfig
from core.runs.record import (
    RunBusy,
    best_checkpoint,
    checkpoints,
    list_runs,
    load_run,
    read_advice,
    read_metrics,
)
from core.runs.records import read_metrics_file
from core.runs.store import delete_run
from core.training.observer import PAUSED, CollectingObserver
from core.training.session import TrainingSession, run_training, start_run

ANSWERS = ["billing", "shipping", "login", "refund"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write_dataset(path, n=8, offset=0):
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Ticket {i + offset}: which team?"},
                {"role": "assistant", "content": f'{{"category": "{ANSWERS[i % 4]}"}}'},
            ]
        }
        for i in range(n)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def small_config(model_dir, train_file, **changes) -> TrainConfig:
    settings = tiny_lora_settings(model_dir, train_file, **{"max_seq_length": 128, **changes})
    return TrainConfig(**settings)


@pytest.mark.parametrize(
    ("method", "lr", "ratio"),
    [("full", 3e-3, 0.7), ("lora", 1e-2, 0.9), ("qlora", 1e-2, 0.9), ("lora8bit", 1e-2, 0.9)],
)
def test_each_method_trains_for_real_and_the_loss_falls(
    project, tiny_model_dir, tmp_path, method, lr, ratio
):
    config = small_config(
        tiny_model_dir, write_dataset(tmp_path / "train.jsonl"), method=method, learning_rate=lr
    )
    observer = CollectingObserver()
    result = run_training(project, config, observer)
    assert result.status == "finished", result.reason
    losses = [r.loss for r in observer.records if r.kind == "train"]
    assert len(losses) == result.steps_done == result.max_steps == 20
    assert sum(losses[-3:]) / 3 < ratio * sum(losses[:3]) / 3, losses
    final = result.final_model_dir
    assert (final / "tokenizer_config.json").is_file()
    meta = json.loads((final / "studio_model.json").read_text())
    assert meta["method"] == method and meta["is_adapter"] == (method != "full")
    if method == "full":
        assert (final / "config.json").is_file() and list(final.glob("*.safetensors"))
    else:
        assert (final / "adapter_config.json").is_file()
    run_json = json.loads((result.folder / "run.json").read_text())
    assert run_json["method"] == method and run_json["device"] == "cpu"
    if method == "qlora":
        # 4-bit weights pack two values per byte: the quantized model counts fewer parameters.
        assert run_json["total_parameters"] < run_json["trainable_parameters"] + 100_000
        assert run_json["optimizer"] == "adamw_torch"


def test_run_folder_and_database_rows(project, tiny_model_dir, tmp_path):
    train = write_dataset(tmp_path / "train.jsonl", n=20)
    config = small_config(
        tiny_model_dir, train, epochs=2.0, validation_fraction=0.2, name="ticket run"
    )
    result = run_training(project, config)
    assert result.status == "finished", result.reason
    folder = result.folder
    for name in ("config.yaml", "run.json", "metrics.jsonl", "advice.jsonl", "train.log"):
        assert (folder / name).is_file(), name
    assert (folder / "checkpoints").is_dir() and (folder / "final").is_dir()
    lines = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert all("step" in line and ("loss" in line or "eval_loss" in line) for line in lines)
    assert any("eval_loss" in line for line in lines)
    train_lines = [line for line in lines if "loss" in line]
    assert all(
        line["memory_kind"] == "cpu-rss" and line["tokens_per_second"] > 0 for line in train_lines
    )
    run = load_run(project, result.run_id)
    assert run.status == "finished" and run.name == "ticket run" and run.method == "lora"
    assert run.best_val_loss == result.best_val_loss and run.best_step is not None
    assert run.final_model_dir == folder / "final" and run.peak_memory_bytes > 0
    assert run.config() == config.replace(train_file=str(train.resolve()))
    rows = project.connection().execute("SELECT count(*) FROM training_metrics").fetchone()[0]
    assert rows == len(read_metrics(run)) == len(lines)
    # The 8-step run also ends with the outcome advice: too few updates to learn from.
    assert [a.kind for a in read_advice(run)] == ["small_dataset", "too_few_updates"]
    assert [r.run_id for r in list_runs(project)] == [result.run_id]
    # Checkpoints: the most recent ones, plus the best by validation loss.
    kept = checkpoints(folder)
    assert 1 <= len(kept) <= config.keep_checkpoints + 1
    assert best_checkpoint(folder).name == f"checkpoint-{run.best_step}"
    delete_run(project, result.run_id)
    assert list_runs(project) == [] and not folder.exists()


def test_bad_data_fails_before_a_run_exists(project, tiny_model_dir, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    observer = CollectingObserver()
    result = run_training(project, small_config(tiny_model_dir, bad), observer)
    assert result.status == "failed" and "line 1" in result.reason and "assistant" in result.reason
    assert result.run_id == "" and list_runs(project) == []
    assert observer.result is result


def test_stop_from_another_thread_saves_a_checkpoint_and_the_model(
    project, tiny_model_dir, tmp_path
):
    config = small_config(tiny_model_dir, write_dataset(tmp_path / "t.jsonl"), epochs=200.0)
    reached = threading.Event()

    class StopAtStep3(CollectingObserver):
        def on_progress(self, progress):
            super().on_progress(progress)
            if progress.step == 3:
                reached.set()

    observer = StopAtStep3()
    session = start_run(project, config, observer)
    assert reached.wait(120)
    running = load_run(project, session.run_id)
    assert running.status == "running" and not running.resumable
    with pytest.raises(RunBusy):
        delete_run(project, session.run_id)
    threading.Thread(target=session.stop).start()
    assert session.wait(120)
    result = session.result
    assert result.status == "stopped" and result.reason == "Stopped by the user."
    assert 3 <= result.steps_done < result.max_steps == 400
    assert (result.folder / "checkpoints" / f"checkpoint-{result.steps_done}").is_dir()
    assert (result.final_model_dir / "adapter_config.json").is_file()
    assert load_run(project, result.run_id).status == "stopped"


def test_pause_and_resume_from_another_thread(project, tiny_model_dir, tmp_path):
    config = small_config(tiny_model_dir, write_dataset(tmp_path / "t.jsonl"), epochs=4.0)
    paused = threading.Event()

    class Watch(CollectingObserver):
        def on_progress(self, progress):
            super().on_progress(progress)
            if progress.step == 2:
                session.pause()

        def on_status(self, state, message):
            super().on_status(state, message)
            if state == PAUSED:
                paused.set()

    observer = Watch()
    session = TrainingSession(project, config, observer)
    thread = threading.Thread(target=session.run)
    thread.start()
    assert paused.wait(120)
    steps_when_paused = len(observer.progress)
    thread.join(0.5)
    assert thread.is_alive() and session.is_paused
    assert len(observer.progress) == steps_when_paused == 2
    threading.Thread(target=session.resume).start()
    thread.join(120)
    assert session.result.status == "finished" and session.result.steps_done == 8
    assert [p.step for p in observer.progress] == list(range(1, 9))


def test_out_of_memory_at_the_cuda_boundary_fails_the_run_with_suggestions(
    project, tiny_model_dir, tmp_path, monkeypatch
):
    """The CUDA caching allocator raises torch.OutOfMemoryError from inside the forward pass;
    we raise it there (the decoder's forward, which TRL's fused LM head calls) and only
    there, on the third micro batch."""
    import torch
    from transformers import LlamaModel

    original = LlamaModel.forward
    calls = {"n": 0}

    def forward_that_runs_out(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise torch.OutOfMemoryError(
                "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.65 GiB total capacity)"
            )
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LlamaModel, "forward", forward_that_runs_out)
    # Checkpointing off (it is on by default), so that it is among the suggestions.
    config = small_config(
        tiny_model_dir,
        write_dataset(tmp_path / "t.jsonl"),
        checkpoint_every_steps=1,
        gradient_checkpointing=False,
    )
    result = run_training(project, config)
    assert result.status == "failed"
    assert "Out of memory at step 2" in result.reason
    assert "micro batch 2 x accumulation 2" in result.reason
    assert "gradient checkpointing" in result.reason and "checkpoint-2 is kept" in result.reason
    assert result.suggestions[0]["changes"] == {"micro_batch_size": 2, "gradient_accumulation": 2}
    # Nothing else is lost: the records and checkpoints are there, the row says why.
    assert [r.step for r in read_metrics_file(result.folder / "metrics.jsonl")] == [1, 2]
    assert (result.folder / "checkpoints" / "checkpoint-2").is_dir()
    run = load_run(project, result.run_id)
    assert run.status == "failed" and run.reason == result.reason and run.resumable
    assert [a.kind for a in read_advice(run)][-1] == "out_of_memory"
    # ... and the run continues from its checkpoint with the suggested settings.
    monkeypatch.setattr(LlamaModel, "forward", original)
    smaller = config.replace(**result.suggestions[0]["changes"])
    resumed = TrainingSession(project, smaller, resume_run=result.run_id).run()
    assert resumed.status == "finished" and resumed.steps_done == 20, resumed.reason
    assert load_run(project, result.run_id).config().micro_batch_size == 2
    assert list(result.folder.glob("config.before-resume-*.yaml"))


def test_a_run_from_a_dataset_version_is_linked_to_it(project, tiny_model_dir, tmp_path):
    from core.dataset.jsonl import read_jsonl
    from core.dataset.versions import save_version

    version = save_version(project, read_jsonl(write_dataset(tmp_path / "tickets.jsonl", n=20)))
    config = small_config(tiny_model_dir, "", dataset_version=version.label, epochs=1.0)
    result = run_training(project, config)
    assert result.status == "finished", result.reason
    run = load_run(project, result.run_id)
    assert (run.dataset_version_id, run.dataset_version_label) == (version.id, version.label)
    assert run.dataset_content_hash == version.content_hash
    assert run.train_file == str(version.train_path)
    data = json.loads((result.folder / "run.json").read_text())["data"]
    assert data["n_train"] == version.n_train and data["n_valid"] == version.n_valid
    assert data["validation_held_out"] is False
