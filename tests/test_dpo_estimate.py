"""The estimator for DPO: chosen and rejected in one batch (twice the sequences of the
micro batch), the reference forward in the time, a second copy of the weights only for
full fine-tuning (with LoRA the reference is the base with the adapter disabled)."""

from __future__ import annotations

import pytest

from core.estimate import estimate, find_gpu, load_architecture
from core.estimate.memory import GIB
from core.estimate.run import estimate_run

LLAMA = load_architecture("Llama-3.1-8B")
H200 = find_gpu("H200")
SAVERS_OFF = {"frozen_16bit": "off", "offload_activations": "off", "tiled_mlp": "off"}


def run(**changes):
    return estimate(LLAMA, estimate_run(**{**SAVERS_OFF, **changes}), H200)


@pytest.mark.parametrize("method", ["lora", "qlora"])
def test_dpo_pairs_cost_twice_the_sequences_and_no_second_base(method):
    dpo = run(method=method, stage="dpo", micro_batch_size=2).memory.breakdown()
    # DPO never packs and turns dropout off: compare with SFT runs that do neither
    sft = {"packing": False, "lora_dropout": 0.0}
    sft_same_pairs = run(method=method, micro_batch_size=2, **sft).memory.breakdown()
    sft_doubled = run(method=method, micro_batch_size=4, **sft).memory.breakdown()
    assert dpo["weights"] == pytest.approx(sft_same_pairs["weights"])  # no reference copy
    assert dpo["activations"] == pytest.approx(sft_doubled["activations"])
    assert dpo["activations"] > sft_same_pairs["activations"]


def test_full_dpo_holds_a_frozen_reference_copy():
    dpo = run(method="full", stage="dpo").memory.breakdown()
    sft = run(method="full").memory.breakdown()
    # at least the fp32 copy of every weight more (the peak's phase may add autocast copies)
    assert dpo["weights"] - sft["weights"] >= LLAMA.total_params * 4 / GIB * 0.99


def test_dpo_time_counts_both_answers_and_the_reference_forward():
    same = {
        "method": "lora",
        "examples": 1000,
        "avg_tokens": 256,
        "gradient_checkpointing": False,
        "packing": False,
    }
    sft = run(**same).time
    dpo = run(stage="dpo", **same).time
    assert dpo.steps == sft.steps  # a step is a batch of pairs
    assert dpo.processed_tokens_per_epoch == 2 * sft.processed_tokens_per_epoch
    # LoRA: 4N per token, plus 2N for the reference forward
    assert dpo.total_flops / sft.total_flops == pytest.approx(2 * 1.5, rel=0.01)
    assert any("reference forward" in a for a in dpo.assumptions)


def test_a_dpo_run_is_named_by_its_stage():
    from core.recipe.config import TrainConfig

    assert TrainConfig(base_model="m").display_name() == "qlora m"
    assert TrainConfig(base_model="m", stage="dpo", method="lora").display_name() == "dpo lora m"


def test_a_dpo_estimate_is_never_packed():
    packed_sft = run(method="lora", packing=True, examples=1000, avg_tokens=256)
    dpo = run(method="lora", stage="dpo", packing=True, examples=1000, avg_tokens=256)
    assert packed_sft.settings.packing and not dpo.settings.packing
    assert any("Not packed" in a for a in dpo.time.assumptions)


def test_dpo_keeps_no_dropout_copies_since_trl_turns_dropout_off():
    """DPOConfig.disable_dropout (on; dpo_setup keeps it) sets every dropout, LoRA's
    included, to p=0, which hands its input through: the adapters read the base layer's
    input and keep no copy or mask of their own (measured: tests/test_estimate_simulate_dpo.py)."""
    dpo = run(method="lora", stage="dpo", lora_dropout=0.1).memory.breakdown()
    dpo_no_dropout = run(method="lora", stage="dpo", lora_dropout=0.0).memory.breakdown()
    assert dpo["activations"] == pytest.approx(dpo_no_dropout["activations"])
    components = run(method="lora", stage="dpo").memory.components
    (note,) = [part.detail for part in components if part.key == "activations"]
    assert "no dropout" in note and "reference forward" in note
    sft = run(method="lora", packing=False, lora_dropout=0.1).memory.breakdown()
    sft_no_dropout = run(method="lora", packing=False, lora_dropout=0.0).memory.breakdown()
    assert sft["activations"] > sft_no_dropout["activations"]  # SFT keeps its dropout


@pytest.mark.parametrize(
    ("stage", "trainer"), [("sft", "SFTTrainer"), ("dpo", "DPOTrainer"), ("grpo", "GRPOTrainer")]
)
def test_the_stack_line_names_the_stages_trainer(stage, trainer):
    # A DPO or GRPO estimate said "via TRL SFTTrainer".
    (stack,) = [line for line in run(method="lora", stage=stage).assumptions if "Stack:" in line]
    assert f"TRL {trainer}," in stack
    assert [name for name in ("SFTTrainer", "DPOTrainer", "GRPOTrainer") if name in stack] == [
        trainer
    ]
