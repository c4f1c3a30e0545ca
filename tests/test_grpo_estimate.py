"""The estimator for GRPO: every answer of each prompt is a training sequence of prompt +
answer, generation holds a KV cache of a whole step's answers (the peak when it is bigger
than the backward pass), the reference forward (KL weight > 0) and the decoding time."""

from __future__ import annotations

import pytest

from core.estimate import estimate, find_gpu, load_architecture
from core.estimate.grpo import answers_per_step, kv_cache_bytes
from core.estimate.memory import GIB
from core.estimate.run import estimate_run

LLAMA = load_architecture("Llama-3.1-8B")
H200 = find_gpu("H200")
SAVERS_OFF = {
    "frozen_16bit": "off",
    "offload_activations": "off",
    "tiled_mlp": "off",
    "packing": False,  # GRPO never packs: compare with SFT unpacked
}
GRPO = {"stage": "grpo", "grpo_num_generations": 4, "grpo_max_completion_length": 256}


def run(**changes):
    return estimate(LLAMA, estimate_run(**{**SAVERS_OFF, **changes}), H200)


def test_grpo_trains_on_each_answer_of_prompt_plus_answer():
    grpo = run(method="qlora", micro_batch_size=1, max_seq_length=256, **GRPO)
    sft = run(method="qlora", micro_batch_size=4, max_seq_length=512)
    # 1 prompt x 4 answers of 256 + 256 tokens: SFT's 4 sequences of 512
    assert grpo.memory.breakdown()["activations"] == pytest.approx(
        sft.memory.breakdown()["activations"]
    )
    assert grpo.memory.breakdown()["weights"] == pytest.approx(sft.memory.breakdown()["weights"])
    assert any("1 prompts x 4 answers" in a for a in grpo.memory.assumptions)


def test_the_kv_cache_of_a_big_generation_batch_sets_the_peak():
    settings = estimate_run(
        method="qlora",
        micro_batch_size=8,
        gradient_accumulation=8,
        max_seq_length=1024,
        gradient_checkpointing=True,
        **{**GRPO, "grpo_num_generations": 16, "grpo_max_completion_length": 1024},
        **SAVERS_OFF,
    )
    assert answers_per_step(settings) == 8 * 8 * 16
    # Llama-3.1-8B: 32 layers x 1024 kv dims x 2 (K, V) x 2 bytes x 1024 answers x 2048 tokens
    assert kv_cache_bytes(LLAMA, settings) == 2 * 32 * 1024 * 2 * 1024 * 2048
    result = estimate(LLAMA, settings, H200)
    assert "GRPO answer generation" in " ".join(result.memory.assumptions)
    assert result.memory.breakdown()["activations"] >= 256  # GiB of KV cache
    small = run(method="qlora", micro_batch_size=1, max_seq_length=256, **GRPO)
    assert "GRPO answer generation" not in " ".join(small.memory.assumptions)


def test_full_grpo_holds_a_reference_copy_only_with_a_kl_weight():
    with_kl = run(method="full", grpo_beta=0.04, **GRPO).memory.breakdown()
    without = run(method="full", grpo_beta=0.0, **GRPO).memory.breakdown()
    assert with_kl["weights"] - without["weights"] >= LLAMA.total_params * 4 / GIB * 0.99


def test_grpo_time_counts_answers_reference_forward_and_generation():
    same = {"method": "lora", "examples": 1000, "avg_tokens": 256, "gradient_checkpointing": False}
    sft = run(**same, max_seq_length=512).time
    no_kl = run(**same, max_seq_length=256, **GRPO, grpo_beta=0.0).time
    kl = run(**same, max_seq_length=256, **GRPO, grpo_beta=0.04).time
    assert no_kl.steps == sft.steps  # a step is a batch of prompts
    assert no_kl.processed_tokens_per_epoch == 4 * sft.processed_tokens_per_epoch
    assert kl.total_flops / no_kl.total_flops == pytest.approx(1.5, rel=0.01)  # 4N + 2N
    # generation (decoding a few answers at a time) makes GRPO slower than its FLOPs say
    training_only = no_kl.total_flops / sft.total_flops * sft.hours
    assert no_kl.hours > 1.5 * training_only
    assert any("answers of up to 256 tokens" in a for a in kl.assumptions)
