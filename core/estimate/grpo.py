"""GRPO's share of the estimate: what generating answers adds to memory and time.

A GRPO step first writes `grpo_num_generations` answers to each prompt (no gradients,
with a KV cache), then trains on every prompt + answer sequence like SFT, with a reference
forward (no gradients) when the KL weight is above 0. Read with the recipe's settings:

- sequences: micro_batch_size prompts x grpo_num_generations answers per micro batch;
  each sequence is the prompt (at most max_seq_length tokens) + the answer
  (grpo_max_completion_length);
- generation batch: TRL samples the answers of a whole optimizer step at once
  (per-device batch x gradient accumulation), so its KV cache holds all of them;
- generation time: decoding is one forward per answer token for the whole generation
  batch; at the batch sizes of a GRPO step it is memory-bound, so it runs at a fraction
  of the training utilisation (DECODE_BATCH_FOR_FULL_USE answers in flight reach it).
"""

from __future__ import annotations

from core.estimate.architecture import ModelArchitecture
from core.estimate.run import EstimateRun

# Decoding reads every weight once per token: it reaches the matmul rate of training only
# with this many answers decoded together (a GPU's FLOP-to-bandwidth ratio, ~300 for
# A100/H100 in 16-bit); fewer in flight run proportionally slower.
DECODE_BATCH_FOR_FULL_USE = 256


def is_grpo(settings: EstimateRun) -> bool:
    return settings.recipe.stage == "grpo"


def answers_per_step(settings: EstimateRun) -> int:
    """Answers generated together: one optimizer step's prompts x answers per prompt."""
    recipe = settings.recipe
    return recipe.micro_batch_size * recipe.gradient_accumulation * recipe.grpo_num_generations


def kv_cache_bytes(arch: ModelArchitecture, settings: EstimateRun) -> float:
    """The KV cache at the end of generation: keys and values of every layer for every
    token of every answer in flight (16-bit; fp32 runs keep fp32)."""
    element = 4 if settings.precision == "fp32" else 2
    layers = arch.num_decoder_layers if arch.encoder_decoder else arch.num_layers
    return (
        2.0 * layers * arch.kv_dim * element * answers_per_step(settings) * settings.max_seq_length
    )


def generation_logits_bytes(arch: ModelArchitecture, settings: EstimateRun) -> float:
    """Sampling's fp32 logits of the last position, one row per answer in flight (the
    prompt's prefill computes only the last position's logits)."""
    return 4.0 * arch.vocab_size * answers_per_step(settings) * 2  # logits and softmax


def generation_bytes(arch: ModelArchitecture, settings: EstimateRun) -> tuple[float, str]:
    """What generation adds on top of the weights and optimizer state, and its words."""
    kv = kv_cache_bytes(arch, settings)
    logits = generation_logits_bytes(arch, settings)
    words = (
        f"GRPO generation: KV cache of {answers_per_step(settings)} answers in flight x "
        f"{settings.max_seq_length} tokens ({kv / 2**30:.2f} GiB) and the sampling logits "
        f"({logits / 2**30:.2f} GiB)"
    )
    return kv + logits, words


def generation_flops(arch: ModelArchitecture, settings: EstimateRun, forward: float) -> float:
    """FLOPs of writing one epoch's answers: a forward per answer token and per prompt
    token (prefill), `forward` FLOPs per token."""
    recipe = settings.recipe
    prompt = max(1, settings.max_seq_length - recipe.grpo_max_completion_length)
    prompt = min(prompt, settings.avg_tokens)
    answers = settings.examples * recipe.grpo_num_generations
    return forward * answers * (recipe.grpo_max_completion_length + prompt)


def decode_utilisation(settings: EstimateRun, training_utilisation: float) -> float:
    """The share of peak FLOPs decoding reaches with this many answers in flight."""
    share = min(1.0, answers_per_step(settings) / DECODE_BATCH_FOR_FULL_USE)
    return max(1e-3, training_utilisation * share)
