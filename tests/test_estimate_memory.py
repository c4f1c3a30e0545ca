"""The memory model's accounting: each component, and how settings move the peak."""

import pytest

from core.estimate import estimate, find_gpu, load_architecture
from core.estimate.memory import GIB, NF4_BYTES, NF4_DOUBLE_QUANT_BYTES
from core.estimate.run import estimate_run

LLAMA = load_architecture("Llama-3.1-8B")
RTX4090 = find_gpu("RTX 4090")
H200 = find_gpu("H200")


# The terms as given: a saver left on "auto" would be turned on where a case does not fit
# (tests/test_estimate_savers.py covers that pick).
SAVERS_OFF = {"frozen_16bit": "off", "offload_activations": "off", "tiled_mlp": "off"}


def memory(model=LLAMA, gpu=RTX4090, **changes):
    return estimate(model, estimate_run(**{**SAVERS_OFF, **changes}), gpu).memory


def test_nf4_bits_per_weight_follow_the_qlora_paper():
    assert pytest.approx(4.5) == NF4_BYTES * 8
    assert pytest.approx(4.127, abs=0.001) == NF4_DOUBLE_QUANT_BYTES * 8
    with_dq = memory(double_quant=True).breakdown()["weights"]
    without = memory(double_quant=False).breakdown()["weights"]
    saved = (without - with_dq) * GIB
    assert saved == pytest.approx(LLAMA.linear_params * (NF4_BYTES - NF4_DOUBLE_QUANT_BYTES))


def test_components_add_up_to_the_peak():
    for method in ("full", "lora", "qlora", "lora8bit"):
        result = memory(method=method, gpu=H200)
        assert sum(result.breakdown().values()) == pytest.approx(result.peak_gib)
        assert result.allocated_gib < result.reserved_gib < result.peak_gib


def test_full_fine_tuning_bytes_per_parameter():
    # Pure bf16 with a fused AdamW (another stack's way; this trainer keeps fp32 master
    # weights): 2 (weights) + 2 (grads) + 4 (two bf16 moments) = 8 bytes.
    pure = memory(
        method="full",
        optimizer="adamw_torch_fused",
        precision_override="bf16",
        gpu=H200,
        gradient_accumulation=2,
    )
    parts = pure.breakdown()
    trained = (parts["weights"] + parts["gradients"] + parts["optimizer"]) * GIB
    assert trained / LLAMA.total_params == pytest.approx(8, rel=0.01)
    # Mixed precision (fp32 master weights, bf16 compute): 4 + 4 + 8 + 2 autocast copies = 18.
    mixed = memory(
        method="full",
        optimizer="adamw_torch_fused",
        gpu=H200,
        gradient_accumulation=2,
        precision="bf16",  # the trainer's full fine-tuning in bf16: fp32 weights, autocast
    ).breakdown()
    trained = (mixed["weights"] + mixed["gradients"] + mixed["optimizer"]) * GIB
    assert trained / LLAMA.total_params == pytest.approx(18, rel=0.02)
    # 8-bit AdamW keeps 2 bytes of state per parameter.
    eight_bit = memory(method="full", optimizer="adamw_8bit", gpu=H200).breakdown()
    assert eight_bit["optimizer"] * GIB / LLAMA.total_params == pytest.approx(2)


def test_lora_parameters_are_r_times_d_in_plus_d_out():
    result = estimate(LLAMA, estimate_run(method="lora", lora_r=8), RTX4090)
    # PEFT prints 20,971,520 trainable parameters for r 8 on all linear layers of Llama-3-8B.
    assert result.memory.trainable_params == 20_971_520
    attention_only = estimate(
        LLAMA,
        estimate_run(method="lora", lora_r=8, lora_target_modules=("q_proj", "v_proj")),
        RTX4090,
    )
    assert attention_only.memory.trainable_params == 32 * 8 * ((4096 + 4096) + (4096 + 1024))


def test_checkpointing_batch_dropout_and_packing_move_activations_the_right_way():
    base = dict(method="lora", gradient_checkpointing=False, gpu=H200)
    act = lambda **kw: memory(**{**base, **kw}).breakdown()["activations"]
    assert act(gradient_checkpointing=True) < act() / 4
    assert act(micro_batch_size=8) == pytest.approx(2 * act(), rel=0.05)
    assert act(lora_dropout=0.0) < act()
    # Unpacked batches carry a padding mask, so SDPA gets repeated K/V heads (GQA undone).
    assert act(packing=False) > act(packing=True)


def test_eager_attention_grows_with_the_square_of_the_sequence():
    gemma = load_architecture("Gemma-2-9B")
    short = memory(model=gemma, gpu=H200, gradient_checkpointing=False, max_seq_length=1024)
    long = memory(model=gemma, gpu=H200, gradient_checkpointing=False, max_seq_length=2048)
    ratio = long.breakdown()["activations"] / short.breakdown()["activations"]
    assert ratio > 2.3  # linear parts double, the s x s scores quadruple
    llama_short = memory(gpu=H200, gradient_checkpointing=False, max_seq_length=1024)
    llama_long = memory(gpu=H200, gradient_checkpointing=False, max_seq_length=2048)
    assert llama_long.breakdown()["activations"] / llama_short.breakdown()["activations"] < 2.1


def test_fsdp_splits_weights_gradients_and_states_but_not_activations():
    pure = {"method": "full", "precision_override": "bf16", "optimizer": "paged_adamw_8bit"}
    one = memory(**pure, gpu=H200, gradient_accumulation=2)
    four = memory(**pure, gpu=H200, gradient_accumulation=2, num_gpus=4, sharding="fsdp")
    for part in ("gradients", "optimizer"):
        assert four.breakdown()[part] == pytest.approx(one.breakdown()[part] / 4)
    assert four.breakdown()["weights"] < one.breakdown()["weights"] / 3
    assert four.breakdown()["activations"] == pytest.approx(one.breakdown()["activations"])
    zero2 = memory(**pure, gpu=H200, gradient_accumulation=2, num_gpus=4, sharding="zero2")
    assert zero2.breakdown()["weights"] == pytest.approx(one.breakdown()["weights"])


def test_paged_optimizer_states_can_spill_instead_of_failing():
    mistral = load_architecture("Mistral-7B-v0.3")
    a100 = find_gpu("A100 80GB")
    paged = memory(
        model=mistral, method="full", optimizer="paged_adamw_32bit", gpu=a100, micro_batch_size=1
    )
    # 7.25B x 8 bytes of fp32 moments do not fit beside the model, but they may page out.
    assert paged.paged_gib * GIB == pytest.approx(mistral.total_params * 8)
    assert paged.peak_gib > a100.memory_gib
    assert paged.fits and paged.pages_to_cpu
    unpaged = memory(model=mistral, method="full", optimizer="adamw_8bit", gpu=find_gpu("RTX 4090"))
    assert not unpaged.fits and not unpaged.pages_to_cpu and unpaged.paged_gib == 0


def test_fused_lm_head_avoids_gigabytes_of_logits():
    from core.estimate import StackAssumptions

    settings = estimate_run(method="qlora")
    fused = estimate(LLAMA, settings, RTX4090).memory.breakdown()["logits"]
    full = estimate(
        LLAMA, settings, RTX4090, StackAssumptions(fused_lm_head=False)
    ).memory.breakdown()["logits"]
    # 8192 tokens x 128256 vocabulary x 12 bytes
    assert full * GIB == pytest.approx(8192 * 128256 * 12)
    assert fused < full / 10


def test_settings_the_model_cannot_take_are_refused():
    phi = load_architecture("Phi-3-mini")
    with pytest.raises(ValueError, match=r"no 'q_proj' layer.*qkv_proj"):
        estimate(phi, estimate_run(lora_target_modules=("q_proj", "v_proj")), RTX4090)
    with pytest.raises(ValueError, match="unknown LoRA target 'attn'"):
        estimate(LLAMA, estimate_run(lora_target_modules=("attn",)), RTX4090)
    with pytest.raises(ValueError, match="micro_batch_size"):
        estimate_run(micro_batch_size=0)
    with pytest.raises(ValueError, match="optimizer: 'adam' is not one of"):
        estimate_run(optimizer="adam")


def test_bf16_on_a_card_without_it_is_warned():
    result = estimate(LLAMA, estimate_run(precision="bf16"), find_gpu("T4"))
    assert any("no bfloat16" in warning for warning in result.warnings)
    # auto resolves on the card as the trainer does: fp16 where there is no bf16.
    automatic = estimate(LLAMA, estimate_run(), find_gpu("T4"))
    assert automatic.settings.precision == "fp16"
    assert not any("no bfloat16" in warning for warning in automatic.warnings)
