"""Training time and cost: FLOPs per token, tokens, utilisation and price."""

import pytest

from core.estimate import estimate, find_gpu, load_architecture
from core.estimate.run import estimate_run
from core.estimate.training_time import forward_flops_per_token

LLAMA = load_architecture("Llama-2-7B")
A100 = find_gpu("A100 80GB")


def run(**changes):
    return estimate(LLAMA, estimate_run(**changes), A100).time


def test_flops_per_token_are_6n_full_4n_frozen_plus_2n_recompute():
    forward = forward_flops_per_token(LLAMA, context=512)
    assert forward == pytest.approx(2 * LLAMA.total_params, rel=0.05)
    full = run(method="full", gradient_checkpointing=False).flops_per_token
    lora = run(method="lora", gradient_checkpointing=False).flops_per_token
    recompute = run(method="lora", gradient_checkpointing=True).flops_per_token
    assert full == pytest.approx(3 * forward)
    assert lora == pytest.approx(2 * forward, rel=0.02)
    assert recompute - lora == pytest.approx(forward)


def test_tokens_epochs_and_packing():
    packed = run(examples=2000, avg_tokens=300, epochs=2)
    assert packed.real_tokens_per_epoch == 600_000
    assert packed.total_flops == pytest.approx(packed.flops_per_token * 1_200_000)
    padded = run(examples=2000, avg_tokens=300, epochs=2, packing=False)
    assert padded.processed_tokens_per_epoch > packed.processed_tokens_per_epoch
    truncated = run(examples=100, avg_tokens=5000, max_seq_length=2048)
    assert truncated.real_tokens_per_epoch == 100 * 2048
    counted = run(examples=100, avg_tokens=5000, dataset_tokens=123_456)
    assert counted.real_tokens_per_epoch == 123_456


def test_hours_and_cost_follow_the_gpu_and_its_price():
    one = estimate(LLAMA, estimate_run(), A100)
    assert one.cost_usd == pytest.approx(one.hours * A100.price_per_hour)
    h100 = estimate(LLAMA, estimate_run(), find_gpu("H100 SXM"))
    assert h100.hours < one.hours / 2.5  # 989 vs 312 TFLOP/s
    four = estimate(LLAMA, estimate_run(num_gpus=4, sharding="fsdp"), A100)
    assert one.hours / 4 < four.hours < one.hours / 3
    assert four.cost_usd == pytest.approx(four.hours * 4 * A100.price_per_hour)


def test_qlora_is_slower_than_lora_and_small_models_use_the_gpu_less():
    assert run(method="qlora").hours > run(method="lora").hours
    smol = estimate(load_architecture("SmolLM2-135M-Instruct"), estimate_run(), A100)
    assert smol.time.utilisation < run().utilisation


def test_moe_compute_counts_only_routed_experts():
    mixtral = load_architecture("Mixtral-8x7B-v0.1")
    per_token = estimate(mixtral, estimate_run(method="qlora"), A100).time.flops_per_token
    assert per_token < 6 * mixtral.active_params * 1.2
    assert per_token < 2 * mixtral.total_params
