"""The CPU RAM estimate: its terms' arithmetic, and one real run's peak RSS against it.

The accuracy over a matrix of real runs is benchmarks/cpu_ram_accuracy.py's job; here
one tiny run checks the estimate is not grossly off (a loaded 2-core machine must not
make this flaky, so the band is wide).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.estimate import load_architecture
from core.estimate.cpu_ram import (
    FUSED_HEAD_VOCAB,
    GIB,
    GUI_BASELINE_BYTES,
    LOSS_TILE_COPIES,
    PROCESS_BASELINE_BYTES,
    estimate_cpu_ram,
)
from core.estimate.run import EstimateRun, estimate_run
from core.estimate.summary import DataSeen, summarize_ram

REPO = Path(__file__).resolve().parent.parent


def _smol():
    return load_architecture("SmolLM2-135M-Instruct")


def _settings(**changes) -> EstimateRun:
    values = dict(
        method="lora",
        precision="fp32",
        optimizer="adamw_torch",
        micro_batch_size=2,
        gradient_accumulation=1,
        max_seq_length=512,
        gradient_checkpointing=True,
        lora_r=16,
    )
    values.update(changes)
    return estimate_run(**values)


def test_lora_terms_add_up_to_the_peak():
    model = _smol()
    ram = estimate_cpu_ram(model, _settings(), gui=False)
    parts = ram.breakdown
    assert ram.baseline_bytes == PROCESS_BASELINE_BYTES
    assert ram.peak_bytes == ram.baseline_bytes + sum(parts.values())
    # fp32 weights, counted once (safetensors are read in place).
    assert parts["weights"] == pytest.approx(model.total_params * 4, rel=1e-6)
    # The fused head's CPU fallback: 15 fp32 tiles of 1024 tokens x 32768 entries, plus
    # the hidden states and their gradient.
    tokens = 2 * 512
    assert model.vocab_size > FUSED_HEAD_VOCAB
    tile = tokens * FUSED_HEAD_VOCAB * 4
    assert parts["logits"] == int(LOSS_TILE_COPIES * tile + tokens * model.hidden_size * 8)
    assert parts["loading"] == 0 and parts["workspace"] == 0
    # With one micro batch per step the (tiny) LoRA gradients take the freed pages.
    assert parts["gradients"] == 0
    # SmolLM2 LoRA at 2 x 512 tokens measured 2.9 GiB peak RSS (benchmark).
    assert 2.7 * GIB < ram.peak_bytes < 3.3 * GIB


def test_full_fine_tuning_counts_gradients_and_adam_states():
    model = _smol()
    single = estimate_cpu_ram(model, _settings(method="full", micro_batch_size=1), gui=False)
    params = model.total_params
    assert single.breakdown["optimizer"] == pytest.approx(8 * params, rel=1e-6)
    # Gradients (4 bytes each) fill the pages the loss tiles free: the larger one counts.
    # At 512 tokens the loss tiles (0.9 GiB) outweigh SmolLM2's gradients (0.5 GiB).
    dynamic = sum(single.breakdown[key] for key in ("activations", "logits", "workspace"))
    assert single.breakdown["gradients"] == 0 and dynamic > 4 * params
    accumulated = estimate_cpu_ram(
        model, _settings(method="full", micro_batch_size=1, gradient_accumulation=4), gui=False
    )
    # With accumulation the gradients stay through the next micro batch: both count.
    assert accumulated.breakdown["gradients"] == pytest.approx(4 * params, rel=1e-6)
    assert accumulated.breakdown["logits"] > 0
    assert accumulated.peak_bytes > single.peak_bytes


def test_qlora_counts_the_fp32_weights_read_before_quantizing():
    model = _smol()
    qlora = estimate_cpu_ram(model, _settings(method="qlora"), gui=False)
    assert qlora.breakdown["loading"] == int(0.33 * model.linear_params * 4)
    assert qlora.breakdown["workspace"] == model.largest_linear_params * 4
    lora = estimate_cpu_ram(model, _settings(), gui=False)
    assert qlora.breakdown["weights"] < lora.breakdown["weights"]
    # bitsandbytes' CPU path: 1.3x LoRA's loss and activations (measured).
    assert qlora.breakdown["logits"] == int(lora.breakdown["logits"] * 1.3)


def test_the_loss_grows_with_tokens_up_to_a_tile():
    model = _smol()
    short = estimate_cpu_ram(model, _settings(micro_batch_size=1, max_seq_length=256), gui=False)
    long = estimate_cpu_ram(model, _settings(micro_batch_size=4, max_seq_length=1024), gui=False)
    huge = estimate_cpu_ram(model, _settings(micro_batch_size=8, max_seq_length=2048), gui=False)
    assert long.breakdown["logits"] > 10 * short.breakdown["logits"]
    # Past 4096 tokens the tile stops growing; only the hidden states do.
    extra = huge.breakdown["logits"] - long.breakdown["logits"]
    assert extra == (8 * 2048 - 4096) * model.hidden_size * 8


def test_the_desktop_app_adds_qt_to_the_baseline():
    model = _smol()
    cli = estimate_cpu_ram(model, _settings(), gui=False)
    app = estimate_cpu_ram(model, _settings(), gui=True)
    assert app.peak_bytes - cli.peak_bytes == GUI_BASELINE_BYTES


def test_fits_against_available_ram():
    model = _smol()
    ram = estimate_cpu_ram(model, _settings(), 16 * GIB, 32 * GIB, gui=False)
    assert ram.fits and "fits" in ram.summary()
    tight = estimate_cpu_ram(model, _settings(), 2 * GIB, 8 * GIB, gui=False)
    assert tight.fits is False and "does not fit" in tight.summary()


# The Estimate page's CPU entry: a run that would not fit in RAM is told what would change
# this recipe (the fit engine's remedies, re-estimated in RAM), never a method the recipe
# already uses or a saver already on.


def _advice(available_gib: float, **changes) -> tuple[bool | None, str]:
    """summarize_ram's last line for SmolLM2-135M at 2,048 tokens with this much free RAM
    (the amounts leave room for the desktop app's baseline, which pytest-qt may load)."""
    values = dict(micro_batch_size=8, max_seq_length=2048, gradient_checkpointing=False)
    values.update(changes)
    summary = summarize_ram(
        _smol(),
        _settings(**values),
        DataSeen(None, None, "entered on this page"),
        ram=(int(available_gib * GIB), 16 * GIB),
    )
    return summary.fits, summary.details[-1]


def test_a_qlora_run_is_not_told_to_use_lora_or_qlora():
    fits, advice = _advice(3, method="qlora")
    assert fits is False
    assert "LoRA instead" not in advice and "QLoRA" not in advice
    assert advice.startswith("It would not fit. These together should (about ")
    assert "max sequence length" in advice and "gradient checkpointing on" in advice


def test_a_saver_already_on_is_not_suggested_again():
    fits, advice = _advice(3, method="qlora", micro_batch_size=1, gradient_checkpointing=True)
    assert fits is False
    assert "checkpointing" not in advice and "micro batch" not in advice
    assert "Settings that should fit here: max sequence length " in advice


def test_full_fine_tuning_is_offered_qlora_with_its_estimate():
    fits, advice = _advice(3, method="full", micro_batch_size=1, gradient_checkpointing=True)
    assert fits is False
    assert "QLoRA (4-bit)" in advice and "GiB" in advice


def test_one_remedy_that_fits_is_named_with_its_ram():
    fits, advice = _advice(8, method="lora")
    assert fits is False
    assert advice.startswith("It would not fit. Settings that should fit here: ")
    assert "checkpointing, micro batch 1 together (about " in advice


def test_nothing_fits_says_so():
    fits, advice = _advice(0.8, method="qlora", micro_batch_size=1, gradient_checkpointing=True)
    assert fits is False
    assert "would not fit even with all of these together" in advice
    assert "smaller model or a machine with more free RAM" in advice


def test_a_run_that_fits_gets_no_remedies():
    fits, advice = _advice(40, method="lora", micro_batch_size=1, gradient_checkpointing=True)
    assert fits is True
    assert "would not fit" not in advice


def test_a_real_tiny_run_peaks_near_the_estimate(tmp_path):
    """One real run of our trainer on the tiny model (lora, 256 tokens, 2 steps) in a fresh
    process: its peak RSS and the estimate within a generous band. The tiny model's tensors
    are negligible, so this checks the process baseline, the term that dominates small runs."""
    env = dict(os.environ)
    env.update(MAX_STEPS="2", OMP_NUM_THREADS="1", TMPDIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "cpu_ram_accuracy.py"), "--worker", "tiny-lora"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT ") :])
    assert result["status"] == "finished", result["reason"]
    ratio = result["estimate"] / result["peak"]
    assert 0.8 <= ratio <= 1.6, (result["estimate"], result["peak"])
