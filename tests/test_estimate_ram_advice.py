"""The Estimate page's CPU entry: when a run would not fit in this machine's RAM, the advice
names what would change this recipe (the fit engine's remedies, re-estimated in RAM), never
a method the recipe already uses or a saver already on."""

from __future__ import annotations

from core.estimate import load_architecture
from core.estimate.run import estimate_run
from core.estimate.summary import DataSeen, summarize_ram

GIB = 1024**3
NO_DATA = DataSeen(None, None, "entered on this page")


def _advice(available_gib: float, **changes) -> tuple[bool | None, str]:
    """The last detail line for SmolLM2-135M at 2,048 tokens with this much free RAM (the
    amounts leave room for the desktop app's baseline, which pytest-qt may load)."""
    values = dict(
        method="lora",
        precision="fp32",
        optimizer="adamw_torch",
        micro_batch_size=8,
        gradient_accumulation=1,
        max_seq_length=2048,
        gradient_checkpointing=False,
        lora_r=16,
    )
    values.update(changes)
    model = load_architecture("SmolLM2-135M-Instruct")
    summary = summarize_ram(
        model, estimate_run(**values), NO_DATA, ram=(int(available_gib * GIB), 16 * GIB)
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
