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
- generation memory: the larger of two moments (checked against TRL's GRPOTrainer run on
  the simulated GPU, core/training/simulate/grpo_step.py): the prompts' forward (prefill,
  one layer at a time over every prompt token of the generation batch, without
  gradients; its peak is inside the MLP) and the end of decoding (the KV cache of every
  prompt and answer token, the sampling logits of the last position).
"""

from __future__ import annotations

from core.estimate.activations import ActivationFacts
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


def kv_cache_bytes(
    arch: ModelArchitecture, settings: EstimateRun, element: int = 2, tokens: int = 0
) -> float:
    """The KV cache: keys and values of every layer for `tokens` tokens (default: prompt +
    answer, the end of generation) of every answer in flight, `element` bytes each (the
    dtype the K and V projections return: 16-bit, or fp32 where the hidden states are
    fp32, as on a quantized base whose embeddings PEFT upcasts)."""
    layers = arch.num_decoder_layers if arch.encoder_decoder else arch.num_layers
    tokens = tokens or settings.max_seq_length
    return 2.0 * layers * arch.kv_dim * element * answers_per_step(settings) * tokens


def generation_logits_bytes(arch: ModelArchitecture, settings: EstimateRun, head: int) -> float:
    """Sampling's logits of the last position, one row per answer in flight (the prompts'
    forward computes only the last position's logits): the head's output (`head` bytes),
    transformers' fp32 copy of it and the fp32 softmax it samples from."""
    return (head + 4.0 + 4.0) * arch.vocab_size * answers_per_step(settings)


def prefill_bytes_per_token(
    arch: ModelArchitecture, facts: ActivationFacts, adapter: int, quantized: bool
) -> float:
    """The peak of one decoder layer's forward without gradients, per prompt token, inside
    the MLP while its up projection runs (a dense MLP; an MoE's routed experts are taken as
    one MLP of the layer's intermediate width).

    Held: the embeddings (the model's forward keeps them), the layer's input, the residual
    after attention and the normalised MLP input, in the hidden states' dtype; PEFT's
    copy of that input in the adapter's dtype; act(gate), which waits for up. Made by the
    up projection: the base layer's output, then LoRA's B output and its scaled copy, then
    their sum (PEFT's Linear adds in the promoted dtype; bitsandbytes' LoRA first casts
    the adapter output to the layer's dtype). Without an adapter on the MLP the peak is
    act(gate) x up: both factors and the product.
    """
    stream, inner_bytes = facts.residual_bytes, facts.mlp_bytes
    hidden, inner = arch.hidden_size, arch.intermediate_size
    width = 2 * inner if arch.fused_gate_up else inner
    held = 4 * stream * hidden
    waiting = inner_bytes * inner if arch.gated_mlp and not arch.fused_gate_up else 0
    product = (3 if arch.gated_mlp else 2) * inner_bytes * inner
    if not facts.roles & {"up", "gate_up"}:
        return held + product
    if adapter != stream:
        held += adapter * hidden  # PEFT casts the layer's input to the adapter's dtype
    summed = 2 * inner_bytes if quantized else adapter + max(adapter, inner_bytes)
    up = waiting + width * (inner_bytes + max(2 * adapter, summed))
    return held + max(up, product)


def generation_bytes(
    arch: ModelArchitecture, settings: EstimateRun, facts: ActivationFacts, adapter: int
) -> tuple[float, str]:
    """What generation adds on top of the weights and optimizer state, and its words:
    the larger of the prompts' forward (prefill) and the end of decoding."""
    answers = answers_per_step(settings)
    prompt = settings.recipe.max_seq_length
    element = facts.residual_bytes
    layers = arch.num_decoder_layers if arch.encoder_decoder else arch.num_layers
    kv = kv_cache_bytes(arch, settings, element)
    # Each new token's keys and values are concatenated to the cache one layer at a time:
    # the old and the new keys (or values) of one layer are briefly both held.
    growing = kv / (2 * layers)
    head = 4 if element == 4 else 2  # the LM head runs in the hidden states' dtype
    logits = generation_logits_bytes(arch, settings, head)
    decode = kv + growing + logits
    quantized = settings.quantized_bits is not None
    prefill_kv = kv_cache_bytes(arch, settings, element, prompt)
    prefill = prefill_kv + answers * prompt * prefill_bytes_per_token(
        arch, facts, adapter, quantized
    )
    if prefill > decode:
        words = (
            f"GRPO generation, the prompts' forward: {answers} answers in flight x {prompt} "
            f"prompt tokens through one layer at a time without gradients "
            f"({(prefill - prefill_kv) / 2**30:.2f} GiB at the MLP) and their KV cache "
            f"({prefill_kv / 2**30:.2f} GiB)"
        )
        return prefill, words
    words = (
        f"GRPO generation: KV cache of {answers} answers in flight x "
        f"{settings.max_seq_length} tokens ({kv / 2**30:.2f} GiB, {element * 8}-bit) and the "
        f"sampling logits ({logits / 2**30:.2f} GiB)"
    )
    return decode, words


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
