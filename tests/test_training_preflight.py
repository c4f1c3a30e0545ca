"""Pre-flight: real steps on the longest batch, and settings that fit when it would not."""

from __future__ import annotations

import json

import pytest

from core.recipe.config import TrainConfig
from core.runs.record import read_advice
from core.training.chat_tokens import TokenizedConversation, TokenizedSplit
from core.training.preflight import (
    GIB,
    PreflightReport,
    longest_batch_rows,
    run_preflight,
    step_timing,
    suggestions_for_report,
)
from core.training.run_plan import plan_for_project
from core.training.session import run_training

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(model_dir, tmp_path, **changes) -> TrainConfig:
    rows = [
        {
            "messages": [
                {"role": "user", "content": "Ticket " + "about my order " * (i + 1)},
                {"role": "assistant", "content": "shipping " * (i + 1)},
            ]
        }
        for i in range(12)
    ]
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    settings = {
        "base_model": str(model_dir),
        "train_file": str(train),
        "method": "lora",
        "micro_batch_size": 4,
        "gradient_accumulation": 4,
        "max_seq_length": 128,
        "epochs": 1.0,
    }
    settings.update(changes)
    return TrainConfig(**settings)


def _limit_tokens_per_forward(monkeypatch, limit: int) -> list:
    """A card that holds `limit` tokens of activations: the decoder's forward raises the CUDA
    allocator's error above it (the only thing mocked)."""
    import torch
    from transformers import LlamaModel

    original = LlamaModel.forward
    seen = []

    def forward(self, *args, **kwargs):
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        tokens = int(input_ids.numel()) if input_ids is not None else 0
        seen.append(tokens)
        if tokens > limit:
            raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {tokens} MiB")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LlamaModel, "forward", forward)
    return seen


def test_longest_batch_is_full_rows_with_packing_and_longest_examples_without():
    examples = [TokenizedConversation(list(range(n)), list(range(n))) for n in (5, 40, 12, 33)]
    split = TokenizedSplit(examples)
    packed = longest_batch_rows(split, TrainConfig(micro_batch_size=3, max_seq_length=64))
    assert [len(r["input_ids"]) for r in packed] == [64, 64, 64]
    unpacked = longest_batch_rows(
        split, TrainConfig(micro_batch_size=2, max_seq_length=36, packing=False)
    )
    assert [len(r["input_ids"]) for r in unpacked] == [36, 33]


def test_preflight_measures_memory_and_step_time(project, tiny_model_dir, tmp_path):
    config = _config(tiny_model_dir, tmp_path)
    report = run_preflight(project, config)
    assert report.fits and not report.out_of_memory
    assert report.memory_kind == "cpu-rss" and report.peak_memory_bytes > 0
    assert report.budget_bytes > report.peak_memory_bytes
    assert report.micro_step_time_s > 0
    # A step of this run is not 4 longest micro batches: 11 examples (1 held out) packed
    # into a few rows make one step of fewer, shorter micro batches. The run plan counts
    # them (and the validation passes); the step time is its time over its steps.
    planned = plan_for_project(project, config, step_timing(report)).plan
    assert planned.optimizer_steps == 1
    assert report.estimated_run_time_s == pytest.approx(planned.seconds)
    assert report.step_time_s == pytest.approx(planned.seconds / planned.optimizer_steps)
    assert 0 < report.step_time_s < report.micro_step_time_s * 4
    assert report.batch_tokens == 4 * 128
    assert "fits" in report.message and "RAM" in report.message


def test_preflight_that_runs_out_proposes_verified_settings(
    project, tiny_model_dir, tmp_path, monkeypatch
):
    seen = _limit_tokens_per_forward(monkeypatch, limit=300)
    report = run_preflight(project, _config(tiny_model_dir, tmp_path), verify=True)
    assert not report.fits and report.out_of_memory
    first = report.suggestions[0]
    assert first.verified
    assert first.changes == {"micro_batch_size": 2, "gradient_accumulation": 8}
    assert "micro batch 2 x accumulation 8" in report.message
    assert max(seen) == 512 and 256 in seen  # it really ran the smaller batch


def test_suggestions_scale_the_measured_activation_memory():
    config = TrainConfig(method="lora", micro_batch_size=8, gradient_accumulation=2)
    report = PreflightReport(
        fits=False,
        device="cuda",
        memory_kind="cuda",
        peak_memory_bytes=40 * GIB,
        static_memory_bytes=8 * GIB,
        budget_bytes=24 * GIB,
        micro_step_time_s=None,
        step_time_s=None,
        estimated_run_time_s=None,
        batch_tokens=0,
    )
    suggestions = suggestions_for_report(config, report)
    # 8 GiB of weights + 32 GiB of activations: micro batch 4 needs 24 (too much), 2 needs 16.
    assert suggestions[0].changes == {"micro_batch_size": 2, "gradient_accumulation": 8}
    assert suggestions[0].estimated_peak_bytes == 16 * GIB
    assert all(
        s.estimated_peak_bytes is None or s.estimated_peak_bytes <= 24 * GIB * 0.92
        for s in suggestions
    )
    assert any(s.changes.get("method") == "qlora" for s in suggestions)


def test_a_run_that_would_not_fit_stops_before_training(
    project, tiny_model_dir, tmp_path, monkeypatch
):
    _limit_tokens_per_forward(monkeypatch, limit=300)
    result = run_training(project, _config(tiny_model_dir, tmp_path, preflight=True))
    assert result.status == "failed" and "pre-flight" in result.reason
    assert result.steps_done == 0
    assert result.suggestions[0]["changes"]["micro_batch_size"] == 2
    (advice,) = [a for a in read_advice(result.folder) if a.kind == "out_of_memory"]
    assert advice.action == "apply_settings" and advice.details["suggestions"]
    assert (result.folder / "preflight.json").is_file()


def test_preflight_reports_its_phases_and_stops_at_its_time_limit(
    project, tiny_model_dir, tmp_path
):
    heard: list[str] = []
    report = run_preflight(
        project,
        _config(tiny_model_dir, tmp_path),
        report=lambda _fraction, message: heard.append(message),
        time_limit_s=0,
    )
    assert not report.fits and "time limit" in report.stopped
    assert report.message.startswith("Pre-flight stopped early: it hit its time limit")
    assert heard[0].startswith("Pre-flight: reading")


def test_a_cancelled_preflight_raises_and_leaves_nothing(project, tiny_model_dir, tmp_path):
    from core.training.preflight import PreflightCancelled

    with pytest.raises(PreflightCancelled):
        run_preflight(project, _config(tiny_model_dir, tmp_path), cancelled=lambda: True)


def test_a_cpu_run_that_cannot_fit_in_ram_is_not_measured(project, tiny_model_dir, tmp_path):
    """Measuring it would grow the app past the machine's RAM; the estimate says so first."""
    import psutil

    # Activations of 4096 sequences of 32k tokens: far beyond any machine's RAM.
    config = _config(
        tiny_model_dir, tmp_path, device="cpu", micro_batch_size=4096, max_seq_length=32768
    )
    before = psutil.Process().memory_info().rss
    report = run_preflight(project, config)
    assert not report.fits and not report.measured and report.peak_memory_bytes is None
    assert report.estimate["fits"] is False
    assert report.estimate["peak_bytes"] > psutil.virtual_memory().total
    assert report.message.startswith("Not run: this run would need about")
    labels = [s.label for s in report.suggestions]
    assert any("micro batch" in label for label in labels), labels
    assert psutil.Process().memory_info().rss - before < 2 * GIB
