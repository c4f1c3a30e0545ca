"""Training time and cost: tokens x epochs x FLOPs per token / (GPU peak x realistic utilisation).

FLOPs per token follow Kaplan et al.: about 6N for full fine-tuning (forward 2N, backward
4N), about 4N with a frozen base (no weight gradients), plus 2N when activations are
recomputed; the LM head and attention scores are counted too. Utilisation is the
fraction of the GPU's dense 16-bit peak a Hugging Face stack achieves: 20-30 % for
LoRA/QLoRA on an A100 in published runs, less for small models whose kernels are short.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.estimate.architecture import ModelArchitecture
from core.estimate.gpus import GpuSpec
from core.estimate.grpo import answers_per_step, decode_utilisation, generation_flops, is_grpo
from core.estimate.memory import decoder_length, lora_parameter_count
from core.estimate.run import EstimateRun
from core.figures import money_text
from core.methods import METHODS

UTILISATION_REFERENCE_PARAMS = 7e9
MULTI_GPU_EFFICIENCY = {"none": 0.93, "zero2": 0.9, "fsdp": 0.85}


@dataclass(frozen=True)
class TimeEstimate:
    real_tokens_per_epoch: int  # tokens of the examples after truncation
    processed_tokens_per_epoch: int  # including padding
    steps: int  # optimizer steps over all epochs
    flops_per_token: float
    total_flops: float
    utilisation: float
    tokens_per_second: float  # processed tokens per second, all GPUs together
    hours: float
    cost_usd: float
    assumptions: tuple[str, ...]


def utilisation(arch: ModelArchitecture, settings: EstimateRun) -> float:
    base = METHODS[settings.method].utilisation
    size = min(1.0, (arch.active_params / UTILISATION_REFERENCE_PARAMS) ** 0.25)
    value = base * max(0.3, size)
    if settings.num_gpus > 1:
        value *= MULTI_GPU_EFFICIENCY[settings.effective_sharding]
    return value


def _padding_factor(micro_batch: int) -> float:
    # Unpacked batches are padded to their longest example, typically a quarter longer
    # than the average for instruction data; a batch of one has no padding.
    return 1 + 0.25 * (1 - 1 / micro_batch)


def forward_flops_per_token(arch: ModelArchitecture, context: int) -> float:
    """Forward FLOPs per token of a decoder: 2 per active matmul weight plus attention."""
    matmul = arch.active_params - arch.embedding_params - arch.small_params
    if arch.tie_embeddings:
        matmul += arch.vocab_size * arch.hidden_size  # the head reuses the embedding matrix
    # QK^T and AV: 2 x 2 x context x q_dim per layer, halved by the causal mask.
    attention = 2 * arch.num_layers * context * arch.q_dim
    return 2 * matmul + attention


def _encoder_decoder_flops_per_example(arch: ModelArchitecture, enc: int, dec: int) -> float:
    encoder = sum(layer.params for layer in arch.linear_layers() if layer.block == "encoder")
    cross_kv = sum(
        layer.params
        for layer in arch.linear_layers()
        if layer.block == "cross" and layer.role in ("k", "v")
    )
    decoder = sum(
        layer.params
        for layer in arch.linear_layers()
        if layer.block == "decoder" or (layer.block == "cross" and layer.role not in ("k", "v"))
    )
    head = arch.vocab_size * arch.hidden_size
    attention = (
        4 * arch.q_dim * (arch.num_layers * enc * enc + arch.num_decoder_layers * dec * (enc + dec))
    )
    return 2 * ((encoder + cross_kv) * enc + (decoder + head) * dec) + attention


def estimate_time(arch: ModelArchitecture, settings: EstimateRun, gpu: GpuSpec) -> TimeEstimate:
    avg = min(settings.avg_tokens, settings.max_seq_length)
    if settings.dataset_tokens is not None:
        real = min(settings.dataset_tokens, settings.examples * settings.max_seq_length)
        avg = max(1, min(settings.max_seq_length, round(real / settings.examples)))
    else:
        real = settings.examples * avg
    assumptions = []
    if settings.packing:
        processed = real
        context = avg
        steps_per_epoch = math.ceil(
            processed / (settings.effective_batch * settings.max_seq_length)
        )
        assumptions.append(
            f"Packed: {real:,} tokens per epoch in sequences of {settings.max_seq_length}, no padding."
        )
    else:
        padded = min(settings.max_seq_length, avg * _padding_factor(settings.micro_batch_size))
        processed = round(settings.examples * padded)
        context = round(padded)
        steps_per_epoch = math.ceil(settings.examples / settings.effective_batch)
        assumptions.append(
            f"Not packed: each batch is padded to its longest example (about {padded:.0f} "
            f"tokens for an average of {avg}), {processed:,} tokens per epoch."
        )
    lora_params, _ = lora_parameter_count(arch, settings)
    if arch.encoder_decoder:
        dec = decoder_length(arch, settings)
        per_example = _encoder_decoder_flops_per_example(arch, context, min(dec, context))
        forward = per_example / max(1, context)
    else:
        forward = forward_flops_per_token(arch, context)
    if settings.method == "full":
        per_token = 3 * forward
        rule = "6N (forward and backward with weight gradients)"
    else:
        per_token = 2 * forward + 6 * lora_params
        rule = "4N (frozen base: no weight gradients) plus the adapters"
    if settings.gradient_checkpointing:
        per_token += forward
        rule += " + 2N to recompute activations"
    if settings.recipe.stage == "dpo":
        # Each pair is two sequences (chosen, rejected), and each gets a reference forward
        # without gradients (adapter disabled, or the frozen copy for full fine-tuning).
        real, processed = 2 * real, 2 * processed
        per_token += forward
        rule += " + 2N for DPO's reference forward"
        assumptions.append("DPO: chosen and rejected are two sequences per pair.")
    generation_seconds_per_epoch = 0.0
    if is_grpo(settings):
        recipe = settings.recipe
        group = recipe.grpo_num_generations
        # Every prompt is trained on once per answer, each sequence prompt + answer (about
        # as long as the data's conversation: its prompt and its reference answer).
        answer = recipe.grpo_max_completion_length
        real, processed = group * real, group * processed
        if recipe.grpo_beta > 0:
            per_token += forward
            rule += " + 2N for GRPO's reference forward (KL)"
        fraction_now = utilisation(arch, settings)
        peak_now = gpu.tflops * 1e12 * (0.5 if settings.precision == "fp32" else 1.0)
        decode = decode_utilisation(settings, fraction_now)
        generation_seconds_per_epoch = generation_flops(arch, settings, forward) / (
            settings.num_gpus * peak_now * decode
        )
        assumptions.append(
            f"GRPO: {group} answers of up to {answer} tokens per prompt, written before each "
            f"step ({answers_per_step(settings)} in flight, decoding at {decode:.1%} of peak) "
            "and trained on as prompt + answer sequences."
        )
    # A step limit ends the run there, whatever the epochs say (as transformers' max_steps).
    epochs = settings.epochs
    if settings.max_steps > 0:
        epochs = settings.max_steps / max(1, steps_per_epoch)
        assumptions.append(
            f"Step limit: {settings.max_steps:,} optimizer steps ({epochs:.2g} epochs)."
        )
    tokens = processed * epochs
    flops = per_token * tokens
    fraction = utilisation(arch, settings)
    peak = gpu.tflops * 1e12 * (0.5 if settings.precision == "fp32" else 1.0)
    speed = settings.num_gpus * peak * fraction
    seconds = flops / speed + generation_seconds_per_epoch * epochs
    hours = seconds / 3600
    cost = hours * settings.num_gpus * gpu.price_per_hour
    assumptions += [
        f"FLOPs per token: {rule} = {per_token / 1e9:.1f} GFLOP.",
        f"{gpu.name}: {gpu.tflops:g} TFLOP/s dense 16-bit peak at {fraction:.0%} utilisation "
        f"(typical of transformers + PEFT for this method and model size)"
        + (", TF32 at half rate for fp32" if settings.precision == "fp32" else "")
        + ".",
        f"Cost: {settings.num_gpus} x {money_text(gpu.price_per_hour)}/GPU-hour ({gpu.source} price); "
        "model loading, evaluation and saving are not included.",
    ]
    return TimeEstimate(
        real_tokens_per_epoch=int(real),
        processed_tokens_per_epoch=int(processed),
        steps=max(1, math.ceil(steps_per_epoch * epochs)),
        flops_per_token=per_token,
        total_flops=flops,
        utilisation=fraction,
        tokens_per_second=tokens / seconds if seconds else 0.0,
        hours=hours,
        cost_usd=cost,
        assumptions=tuple(assumptions),
    )
