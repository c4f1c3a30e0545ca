"""The memory guard: its limits on real-looking readings, the interrupt of a step that will
not end in time, the GPU warning (torch.cuda mocked), and real tiny-model runs that the
guard stops cleanly: a checkpoint kept, the run "stopped" with advice, resumable."""

from __future__ import annotations

import json
import threading

import pytest

from core.recipe.config import TrainConfig, TrainConfigError
from core.runs.record import latest_checkpoint, load_run, read_advice
from core.training.memory_guard import (
    GIB,
    MemoryGuard,
    MemoryGuardInterrupt,
    MemoryLimits,
    MemoryReading,
    breach,
    read_gpu_used_fraction,
    read_memory,
)
from core.training.observer import CollectingObserver
from core.training.session import TrainingSession

ANSWERS = ["billing", "shipping", "login", "refund"]


def reading(rss_gib: float, available_gib: float, total_gib: float = 16.0) -> MemoryReading:
    return MemoryReading(int(rss_gib * GIB), int(available_gib * GIB), int(total_gib * GIB))


def test_defaults_stop_below_10_percent_available_or_above_85_percent_rss():
    limits = MemoryLimits()
    assert breach(limits, reading(2, 8)) == ""
    assert "only 1.5 GiB" in breach(limits, reading(2, 1.5))
    # The interrupt level lies further on: half the free-RAM floor, 5 % more held.
    assert breach(limits, reading(2, 1.5), hard=True) == ""
    assert breach(limits, reading(2, 0.7), hard=True)
    assert breach(limits, reading(14.2, 8), hard=True) == ""
    assert "more than 85 %" in breach(limits, reading(14.5, 8), hard=True)
    assert "more than 85 %" in breach(limits, reading(14, 1.7))
    assert breach(MemoryLimits(min_available_percent=0, max_rss_percent=0), reading(15, 0.1)) == ""


def test_limits_come_from_the_run_settings_and_are_checked():
    config = TrainConfig(memory_stop_available_percent=20, memory_stop_rss_percent=60)
    limits = MemoryLimits.from_config(config)
    assert (limits.min_available_percent, limits.max_rss_percent) == (20, 60)
    with pytest.raises(TrainConfigError) as caught:
        TrainConfig(memory_stop_rss_percent=150)
    assert caught.value.field == "memory_stop_rss_percent"


def test_the_real_reading_is_this_process_and_this_machine():
    now = read_memory()
    assert 0 < now.rss_bytes < now.total_bytes and 0 < now.available_bytes <= now.total_bytes


def test_guard_asks_to_stop_once_then_interrupts_a_step_that_does_not_end():
    readings = iter([reading(2, 8), reading(2, 1.2)] + [reading(2, 0.5)] * 1000)
    stops: list[str] = []
    guard = MemoryGuard(MemoryLimits(interval_s=0.01), stops.append, read=lambda: next(readings))
    interrupted = threading.Event()

    def a_step_that_never_ends() -> None:
        guard.start(threading.get_ident())
        try:
            while True:  # pure Python: the asynchronous exception lands between bytecodes
                sum(range(100))
        except MemoryGuardInterrupt:
            interrupted.set()
        finally:
            guard.close()

    worker = threading.Thread(target=a_step_that_never_ends)
    worker.start()
    worker.join(60)
    assert not worker.is_alive() and interrupted.is_set()
    assert len(stops) == 1 and "only 1.2 GiB of the 16.0 GiB RAM" in stops[0]
    assert guard.tripped and guard.peak_rss_bytes == 2 * GIB


def test_closed_guard_never_interrupts():
    guard = MemoryGuard(MemoryLimits(), lambda _r: None, read=lambda: reading(2, 0.1))
    guard.start(threading.get_ident())
    guard.close()
    guard.check()  # over both levels, but nobody to interrupt any more
    assert guard.tripped


def test_gpu_warning_above_95_percent(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda *a: (int(0.5 * GIB), 24 * GIB))
    assert read_gpu_used_fraction() == pytest.approx(1 - 0.5 / 24)
    warnings: list[str] = []
    guard = MemoryGuard(
        MemoryLimits(), lambda _r: None, warnings.append, watch_gpu=True, read=lambda: reading(2, 8)
    )
    guard.check()
    guard.check()
    assert len(warnings) == 1 and "98% full" in warnings[0]
    assert guard.take_warnings() == warnings and guard.take_warnings() == []
    assert not guard.tripped


def write_dataset(path, n=24):
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Ticket {i}: which team?"},
                {"role": "assistant", "content": ANSWERS[i % 4]},
            ]
        }
        for i in range(n)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def tiny_config(model_dir, train_file, **changes) -> TrainConfig:
    settings = {
        "base_model": str(model_dir),
        "train_file": str(train_file),
        "validation_fraction": 0.0,
        "method": "lora",
        "device": "cpu",
        "epochs": 20.0,
        "micro_batch_size": 4,
        "gradient_accumulation": 1,
        "max_seq_length": 64,
        "packing": False,
        "checkpoint_every_steps": 2,
        "lora_r": 4,
        "lora_alpha": 8,
        "preflight": False,
    }
    settings.update(changes)
    return TrainConfig(**settings)


class LowerTheLimitAtFirstCheckpoint(CollectingObserver):
    """Sets the guard's RSS limit to 1 % of RAM once the run has a checkpoint: every process
    with torch loaded is over that, so the guard trips on this ordinary tiny run."""

    def __init__(self) -> None:
        super().__init__()
        self.session: TrainingSession | None = None

    def on_checkpoint(self, step, path) -> None:
        super().on_checkpoint(step, path)
        guard = self.session.memory_guard
        guard.limits = MemoryLimits(min_available_percent=0, max_rss_percent=1, interval_s=0.05)


def test_guard_stops_a_training_run_with_a_checkpoint_and_advice(project, tiny_model_dir, tmp_path):
    observer = LowerTheLimitAtFirstCheckpoint()
    # Checkpointing off (it is on by default), so that it is among the suggestions.
    config = tiny_config(
        tiny_model_dir, write_dataset(tmp_path / "train.jsonl"), gradient_checkpointing=False
    )
    session = TrainingSession(project, config, observer)
    observer.session = session
    result = session.run()

    assert result.status == "stopped"
    assert result.reason.startswith("Out of memory: the memory guard stopped the run at step")
    assert "more than 1 %" in result.reason and "Continue run resumes it" in result.reason
    assert 2 <= result.steps_done < result.max_steps
    assert result.final_model_dir is None
    assert latest_checkpoint(result.folder) is not None
    (advice,) = [a for a in read_advice(result.folder) if a.kind == "out_of_memory"]
    assert advice.title == "Stopped: out of memory" and advice.details["suggestions"]
    labels = [s["label"] for s in advice.details["suggestions"]]
    assert any("micro batch" in label for label in labels)
    assert any("checkpointing" in label for label in labels)
    info = load_run(project, result.run_id)
    assert info.status == "stopped" and info.resumable
    assert info.reason.startswith("Out of memory")

    # The run continues from its checkpoint with the guard at its defaults.
    resumed = TrainingSession(project, None, CollectingObserver(), resume_run=result.run_id).run()
    assert resumed.status == "finished", resumed.reason
    assert resumed.steps_done == resumed.max_steps


def test_a_low_limit_in_the_settings_stops_the_run_before_it_trains(
    project, tiny_model_dir, tmp_path
):
    config = tiny_config(
        tiny_model_dir,
        write_dataset(tmp_path / "train.jsonl"),
        memory_stop_rss_percent=1,
        memory_stop_available_percent=0,
    )
    observer = CollectingObserver()
    result = TrainingSession(project, config, observer).run()
    assert result.status == "stopped", result.reason
    assert "before the first training step" in result.reason
    assert "There is no checkpoint yet" in result.reason
    assert any(a.kind == "out_of_memory" for a in observer.advice)
    assert not any(state == "training" for state, _ in observer.states)


class LowerTheLimitInPreflight(CollectingObserver):
    session: TrainingSession | None = None

    def on_status(self, state, message) -> None:
        super().on_status(state, message)
        if state == "preflight" and self.session.memory_guard is not None:
            self.session.memory_guard.limits = MemoryLimits(
                min_available_percent=0, max_rss_percent=1, interval_s=0.05
            )


def test_guard_stops_preflight_and_the_run_says_so(project, tiny_model_dir, tmp_path):
    config = tiny_config(tiny_model_dir, write_dataset(tmp_path / "train.jsonl"), preflight=True)
    observer = LowerTheLimitInPreflight()
    session = TrainingSession(project, config, observer)
    observer.session = session
    result = session.run()
    assert result.status == "stopped", result.reason
    assert result.reason.startswith("Out of memory") and result.steps_done == 0
    assert any("Pre-flight stopped early" in line for line in observer.lines)
    assert any(a.kind == "out_of_memory" for a in observer.advice)


class NearlyFullGpu(CollectingObserver):
    """A card 97 % full, as torch.cuda.mem_get_info would say (the boundary replaced)."""

    session: TrainingSession | None = None

    def on_status(self, state, message) -> None:
        super().on_status(state, message)
        guard = self.session.memory_guard
        if state == "loading" and guard is not None:
            guard.watch_gpu = True
            guard._read_gpu = lambda: 0.97


def test_gpu_above_95_percent_is_a_warning_in_the_run_not_a_stop(project, tiny_model_dir, tmp_path):
    config = tiny_config(tiny_model_dir, write_dataset(tmp_path / "train.jsonl", n=8), epochs=2.0)
    observer = NearlyFullGpu()
    session = TrainingSession(project, config, observer)
    observer.session = session
    result = session.run()
    assert result.status == "finished", result.reason
    (warning,) = [a for a in observer.advice if a.kind == "gpu_memory_high"]
    assert warning.severity == "warning" and "97% full" in warning.message
