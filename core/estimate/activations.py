"""Activation memory: the tensors autograd keeps between the forward and the backward pass.

Counted tensor by tensor for a transformers layer rather than with one constant (the
34*s*b*h of Korthikanti et al. assumes GPT-3 with dropout and every weight trained):
with a frozen base a linear layer keeps its input only when something trainable needs
it, LoRA dropout makes each adapted layer keep its own copy of its input, HF RMSNorm
keeps an fp32 copy, SDPA keeps q, k, v and its output but no s x s scores, while eager
attention (Gemma 2's soft-capping, T5) keeps the scores.
All sizes are bytes per token of the micro batch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from core.estimate.architecture import ModelArchitecture
from core.estimate.moe_lora import adapts_experts
from core.estimate.run import EstimateRun
from core.estimate.settings import StackAssumptions

# Which LoRA target names mean which kind of linear layer, across model families.
TARGET_ROLES: dict[str, tuple[str, ...]] = {
    "q_proj": ("q",), "q": ("q",), "query": ("q",),
    "k_proj": ("k",), "k": ("k",), "key": ("k",),
    "v_proj": ("v",), "v": ("v",), "value": ("v",),
    "o_proj": ("o",), "o": ("o",), "out_proj": ("o",), "dense": ("o",), "self_attn.o_proj": ("o",),
    "qkv_proj": ("qkv",), "c_attn": ("qkv",), "query_key_value": ("qkv",), "Wqkv": ("qkv",),
    "gate_proj": ("gate",), "w1": ("gate",), "wi_0": ("gate",),
    "up_proj": ("up",), "w3": ("up",), "wi_1": ("up",), "wi": ("up",), "c_fc": ("up",),
    "fc1": ("up",), "dense_h_to_4h": ("up",),
    "gate_up_proj": ("gate_up",),
    "down_proj": ("down",), "w2": ("down",), "wo": ("down",), "fc2": ("down",),
    "dense_4h_to_h": ("down",),
    "c_proj": ("o", "down"),
    "gate": ("router",), "router": ("router",),
}  # fmt: skip


def adapted_roles(arch: ModelArchitecture, settings: EstimateRun) -> frozenset[str]:
    """The roles of the linear layers that get LoRA adapters; ValueError for unknown names."""
    available = {layer.role for layer in arch.linear_layers()}
    names = settings.target_names()
    if names is None:
        # PEFT's all-linear: every linear layer except the output head (routers included).
        return frozenset(available)
    roles: set[str] = set()
    for name in names:
        short = name.rsplit(".", 1)[-1]
        wanted = TARGET_ROLES.get(short)
        if wanted is None:
            raise ValueError(
                f"unknown LoRA target {name!r}; use all-linear or names like "
                "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"
            )
        present = [role for role in wanted if role in available]
        if not present:
            fused = {"q": "qkv", "k": "qkv", "v": "qkv", "gate": "gate_up", "up": "gate_up"}
            instead = fused.get(wanted[0])
            extra = f" (it has a fused {instead}_proj instead)" if instead in available else ""
            raise ValueError(f"{arch.name} has no {name!r} layer{extra}")
        roles.update(present)
    return frozenset(roles)


# Tokens per tile of the trainer's tiled MLP (core.training.memory_savers uses this one).
MLP_TILE_TOKENS = 4096


# fp32 copies of its input that an RMSNorm's backward holds at once (see estimate_activations).
RMSNORM_BACKWARD_FP32_COPIES = 10


def h_tokens(arch: ModelArchitecture, tokens: int) -> int:
    return arch.hidden_size * tokens


def fp32_upcast(settings: EstimateRun, stack: StackAssumptions) -> bool:
    """A quantized base whose embeddings, LM head and norms are upcast to fp32 (PEFT's
    prepare_model_for_kbit_training), unless the recipe keeps them 16-bit."""
    return (
        settings.quantized_bits is not None
        and stack.kbit_fp32_upcast
        and settings.recipe.frozen_16bit != "on"
    )


def tiled_mlp_tokens(arch: ModelArchitecture, settings: EstimateRun, tokens: int) -> int:
    """Tokens whose MLP intermediates exist at once: one tile with the tiled MLP on (dense
    models past one tile), all of the micro batch's otherwise."""
    if settings.recipe.tiled_mlp == "on" and not arch.is_moe:
        return min(tokens, MLP_TILE_TOKENS)
    return tokens


@dataclass(frozen=True)
class ActivationFacts:
    """The per-run facts the layer formulas need, worked out once."""

    act_bytes: int  # bytes of a 16- or 32-bit activation
    norm_bytes: int  # bytes a norm keeps per element of its input
    residual_bytes: int
    base_keeps_inputs: bool  # frozen/trained base layers keep their input (full FT, int8, old bnb)
    roles: frozenset[str]  # adapted roles (empty for full fine-tuning)
    adapter_input_bytes: int  # bytes of the copy an adapter keeps of its input (0: shares it)
    lora_dropout: bool
    lora_r: int
    eager: bool
    repeat_kv: bool
    dropout: bool  # the model's own dropout (T5, GPT-2)
    adapted_experts: bool = False  # LoRA reaches the expert MLPs of an MoE
    mlp_bytes: int = 2  # bytes of the MLP's inner activations (see activation_facts)


def activation_facts(
    arch: ModelArchitecture, settings: EstimateRun, stack: StackAssumptions, adapter_bytes: int
) -> ActivationFacts:
    full_precision = settings.precision == "fp32"
    act = 4 if full_precision else 2
    train_base = settings.method == "full"
    # HF RMSNorm upcasts its input to fp32 and keeps that copy; LayerNorm keeps the input.
    norm = act if arch.layer_norm else 4
    if train_base:
        norm += act  # the weight's gradient needs the normalised input too
    # An fp32 embedding (full fine-tuning's master weights, or prepare_model_for_kbit_training
    # on a quantized model) makes the residual stream fp32.
    upcast = fp32_upcast(settings, stack)
    residual = 4 if settings.precision in ("fp32", "bf16-mixed") or upcast else act
    keeps = (
        train_base
        or settings.quantized_bits == 8  # bitsandbytes int8 matmul keeps its input
        or (settings.quantized_bits == 4 and stack.bnb_saves_input)
    )
    roles = frozenset() if train_base else adapted_roles(arch, settings)
    fused_experts = not stack.lora_reaches_experts and adapts_experts(arch, settings, stack)
    if adapter_bytes == act:
        adapter_copy = 0  # the adapter reads the very tensor the base layer read
    elif stack.adapters_autocast and not full_precision:
        adapter_copy = act  # fp32 adapter: PEFT casts the input up, autocast casts it back down
    else:
        adapter_copy = adapter_bytes
    eager = stack.attention == "eager" or (stack.attention == "auto" and arch.needs_eager_attention)
    repeat_kv = arch.num_kv_heads != arch.num_heads and (
        eager or (not settings.packing and not stack.shared_kv_heads)
    )
    return ActivationFacts(
        act_bytes=act,
        norm_bytes=norm,
        residual_bytes=residual,
        base_keeps_inputs=keeps,
        roles=roles,
        adapter_input_bytes=adapter_copy,
        # The trainer turns LoRA dropout off where it adapts fused expert parameters.
        lora_dropout=settings.lora_dropout > 0 and not fused_experts,
        lora_r=settings.lora_r,
        eager=eager,
        repeat_kv=repeat_kv,
        dropout=arch.dropout > 0 and not settings.dropout_off,
        adapted_experts=stack.lora_reaches_experts or fused_experts,
        # bitsandbytes layers return their input's dtype; with the embedding upcast to fp32
        # the hidden states are fp32, so the MLP's act(gate) * up is computed in fp32.
        mlp_bytes=4 if upcast else act,
    )


def _input_group(facts: ActivationFacts, roles_here: list[tuple[str, int]], d_in: int) -> float:
    """Bytes per token kept for one input shared by several linear layers.

    roles_here: (role, copies) of the layers reading this input, e.g. [("q",1),("k",1),("v",1)].
    """
    adapted = [(role, copies) for role, copies in roles_here if role in facts.roles]
    total = 0.0
    shares_input = bool(adapted) and not facts.lora_dropout and facts.adapter_input_bytes == 0
    if facts.base_keeps_inputs or shares_input:
        total += facts.act_bytes * d_in
    for _role, copies in adapted:
        per_adapter = 0.0
        if facts.lora_dropout:
            # dropout keeps a 1-byte mask; lora_A keeps the dropped-out input it multiplies
            per_adapter += d_in * (1 + (facts.adapter_input_bytes or facts.act_bytes))
        elif facts.adapter_input_bytes:
            per_adapter += d_in * facts.adapter_input_bytes
        per_adapter += facts.lora_r * facts.act_bytes  # lora_A's output, kept by lora_B
        total += per_adapter * copies
    return total


def _attention_core(arch: ModelArchitecture, facts: ActivationFacts, context: int) -> float:
    """Bytes per query token kept inside self-attention over `context` tokens."""
    b = facts.act_bytes
    q = arch.q_dim
    kv = q if facts.repeat_kv else arch.kv_dim
    total = b * (q + 2 * kv)  # q and k after RoPE, v
    if arch.qk_norm:
        total += 4 * (q + arch.kv_dim)  # fp32 inputs of the per-head norms
    heads = arch.num_heads
    if facts.eager:
        scores = heads * context
        # fp32 softmax output, and the 16-bit probabilities the value matmul keeps
        total += 4 * scores + (b * scores if b < 4 else 0)
        if arch.needs_eager_attention:
            total += b * scores  # tanh soft-capping keeps its output
        if facts.dropout:
            total += (1 + b) * scores  # mask, and the dropped-out probabilities
    else:
        total += b * q + 4 * heads  # SDPA keeps its output and the log-sum-exp
    return total


def _mlp(arch: ModelArchitecture, facts: ActivationFacts, inner: int) -> float:
    """Bytes per token kept by one MLP of width `inner` (its inputs counted separately)."""
    b = facts.mlp_bytes
    # A fused activation keeps its input; a Python-level one (gelu_new) keeps about four tensors.
    activation = b * inner * (4 if arch.unfused_activation else 1)
    if arch.gated_mlp:
        activation += 2 * b * inner  # act(gate) * up keeps both factors
    if facts.dropout:
        activation += inner  # T5 drops out inside the MLP: a 1-byte mask
    if arch.gated_mlp and arch.fused_gate_up:
        mlp_in = _input_group(facts, [("gate_up", 1)], arch.hidden_size)
    elif arch.gated_mlp:
        mlp_in = _input_group(facts, [("gate", 1), ("up", 1)], arch.hidden_size)
    else:
        mlp_in = _input_group(facts, [("up", 1)], arch.hidden_size)
    down_in = _input_group(facts, [("down", 1)], inner)
    return activation + mlp_in + down_in


def _feed_forward(arch: ModelArchitecture, facts: ActivationFacts) -> float:
    if not arch.is_moe:
        return _mlp(arch, facts, arch.intermediate_size)
    k = arch.experts_per_token
    expert_facts = facts if facts.adapted_experts else replace(facts, roles=frozenset())
    routed = k * _mlp(arch, expert_facts, arch.expert_intermediate_size)
    dispatch = k * facts.act_bytes * arch.hidden_size  # tokens gathered per expert
    router = 4 * arch.num_experts + _input_group(facts, [("router", 1)], arch.hidden_size)
    shared = (
        _mlp(arch, facts, arch.shared_expert_intermediate_size)
        if arch.shared_expert_intermediate_size
        else 0.0
    )
    return routed + dispatch + router + shared


def _attention_block(arch: ModelArchitecture, facts: ActivationFacts, context: int) -> float:
    if arch.fused_qkv:
        qkv_in = _input_group(facts, [("qkv", 1)], arch.hidden_size)
    else:
        qkv_in = _input_group(facts, [("q", 1), ("k", 1), ("v", 1)], arch.hidden_size)
    o_in = _input_group(facts, [("o", 1)], arch.q_dim)
    return qkv_in + _attention_core(arch, facts, context) + o_in


def decoder_layer_bytes_per_token(
    arch: ModelArchitecture, facts: ActivationFacts, context: int
) -> float:
    """One decoder-only layer (or one encoder layer of an encoder-decoder)."""
    total = arch.norms_per_layer * facts.norm_bytes * arch.hidden_size
    total += _attention_block(arch, facts, context)
    total += _feed_forward(arch, facts)
    if facts.dropout:
        total += 2 * arch.hidden_size  # masks after attention and after the MLP
    return total


def cross_decoder_layer_bytes(
    arch: ModelArchitecture, facts: ActivationFacts, batch: int, decoder_len: int, encoder_len: int
) -> float:
    """One decoder layer of an encoder-decoder (self-attention, cross-attention, MLP), in bytes
    for the whole micro batch: cross-attention keeps K and V for every encoder token."""
    b = facts.act_bytes
    per_decoder_token = decoder_layer_bytes_per_token(arch, facts, decoder_len)
    per_decoder_token += facts.norm_bytes * arch.hidden_size  # the third norm
    per_decoder_token += _input_group(facts, [("q", 1)], arch.hidden_size) + b * arch.q_dim
    per_decoder_token += _input_group(facts, [("o", 1)], arch.q_dim)
    scores = arch.num_heads * encoder_len
    per_decoder_token += 4 * scores + (b * scores if b < 4 else 0)
    if facts.dropout:
        per_decoder_token += (1 + b) * scores + arch.hidden_size
    # The encoder output itself is one tensor shared by every layer, so it is not counted
    # here; its K and V projections and the adapters' copies of it are, per layer.
    shared_input = b * arch.hidden_size if facts.base_keeps_inputs else 0
    per_encoder_token = 2 * b * arch.q_dim
    per_encoder_token += _input_group(facts, [("k", 1), ("v", 1)], arch.hidden_size) - shared_input
    return per_decoder_token * batch * decoder_len + per_encoder_token * batch * encoder_len


def adapter_cast_bytes(
    arch: ModelArchitecture,
    facts: ActivationFacts,
    adapter_bytes: int,
    tokens: int,
    mlp_tokens: int,
) -> float:
    """Transient bytes while the adapter of the widest adapted input runs, on top of what
    the layer keeps (the 16-bit copy lora_A keeps and the dropout mask are counted in
    _input_group). Two cases, the larger counts:
    - an fp32 adapter on a 16-bit model: PEFT casts the 16-bit input to the adapter's dtype
      and LoRA dropout writes its fp32 output, before autocast casts that back to 16-bit;
    - an fp32 stream (the kbit upcast): the adapted layer's input is itself fp32 and kept
      by nothing (bitsandbytes' 4-bit matmul saves no input, the norm's and the gated
      product's backward keep their factors), and LoRA dropout writes an fp32 copy of it
      before autocast casts that to 16-bit for lora_A. The MLP's inputs count for one tile
      of tokens when the MLP runs in tiles."""
    if not facts.roles:
        return 0.0
    dropout_copies = 2 if facts.lora_dropout else 1
    widest = 0.0
    if adapter_bytes != facts.act_bytes and facts.adapter_input_bytes != 0:
        widths = [arch.hidden_size * tokens]
        if "o" in facts.roles:
            widths.append(arch.q_dim * tokens)
        if "down" in facts.roles and not arch.is_moe:
            widths.append(arch.intermediate_size * mlp_tokens)
        widest = max(widths) * adapter_bytes * dropout_copies
    if facts.residual_bytes > facts.act_bytes and facts.adapter_input_bytes == 0:
        widths = [arch.hidden_size * tokens * facts.residual_bytes]
        if "down" in facts.roles and not arch.is_moe:
            widths.append(arch.intermediate_size * mlp_tokens * facts.mlp_bytes)
        widest = max(widest, max(widths) * dropout_copies)
    return widest


@dataclass(frozen=True)
class ActivationEstimate:
    saved_bytes: float  # kept for the backward pass at its peak
    per_layer_bytes: float  # one layer's saved tensors (the recompute working set)
    note: str
    offloaded_bytes: float = 0.0  # held in CPU RAM by activation offloading
    # The two moments of the backward pass: the loss's (with the head's buffers on top) and
    # a layer's recompute and backward (the loss buffers are gone by then).
    at_loss_bytes: float = 0.0
    in_layers_bytes: float = 0.0
    moments_apart: bool = False  # the peak is the larger moment, not their sum


def estimate_activations(
    arch: ModelArchitecture,
    settings: EstimateRun,
    stack: StackAssumptions,
    adapter_bytes: int,
    decoder_tokens_per_sequence: int,
) -> ActivationEstimate:
    """Activation bytes at the start of the backward pass for one micro batch."""
    facts = activation_facts(arch, settings, stack, adapter_bytes)
    batch = settings.sequences_per_micro_batch
    seq = settings.max_seq_length
    # With packing each document attends only to itself; memory is sized for full-length
    # documents, the worst case a packed batch can hold.
    tokens = batch * seq
    layer = decoder_layer_bytes_per_token(arch, facts, seq) * tokens
    layers_total = arch.num_layers * layer
    mlp_tokens = tiled_mlp_tokens(arch, settings, tokens)
    if mlp_tokens < tokens:
        # One tile's MLP intermediates at a time, recomputed from the tile's input alone.
        layer -= _feed_forward(arch, facts) * (tokens - mlp_tokens)
    if arch.encoder_decoder:
        dec_tokens = batch * decoder_tokens_per_sequence
        cross = cross_decoder_layer_bytes(arch, facts, batch, decoder_tokens_per_sequence, seq)
        layers_total += arch.num_decoder_layers * cross
        layer = max(layer, cross)
        head_tokens = dec_tokens
    else:
        head_tokens = tokens
    final = facts.norm_bytes * arch.hidden_size * head_tokens
    gradient_flow = (
        2 * facts.act_bytes * (arch.hidden_size * tokens + arch.intermediate_size * mlp_tokens)
    )
    offload = settings.recipe.offload_activations == "on"
    all_layers = arch.num_layers + arch.num_decoder_layers
    offloaded = 0.0
    if settings.gradient_checkpointing:
        kept = all_layers * facts.residual_bytes * arch.hidden_size * tokens
        note = (
            f"gradient checkpointing: each of the {all_layers} layers keeps its input; one "
            "layer is recomputed at a time in the backward pass"
        )
        if offload:
            # Every layer input waits in CPU RAM; the one being recomputed is back on the GPU.
            offloaded = kept - kept / all_layers
            kept /= all_layers
            note = (
                f"gradient checkpointing with offloading: the inputs of the {all_layers} layers "
                "wait in CPU RAM, one is back on the GPU while its layer is recomputed"
            )
        saved = kept + layer + final + gradient_flow
        # The recompute of a layer reaches its widest adapter (LoRA on the down projection)
        # with the layer's other tensors held: its input casts come on top. The simulated
        # step's peak is there (lora_A in the recompute); without them a 9k-token batch was
        # underestimated by 16 % (tests/test_estimate_simulate_grpo.py). On an fp32 stream
        # (QLoRA's upcast) they are the MLP's fp32 product and LoRA dropout's fp32 copy of it:
        # 0.34 GiB for one 4k-token tile of Llama-2-7B (tests/test_estimate_simulate_savers.py).
        casts = adapter_cast_bytes(arch, facts, adapter_bytes, tokens, mlp_tokens)
        at_loss, in_layers = kept + final, kept + layer + gradient_flow + casts
    elif offload:
        offloaded = layers_total
        saved = layer + final + gradient_flow
        at_loss, in_layers = final, layer + gradient_flow
        note = "no checkpointing, offloading: every layer's activations wait in CPU RAM"
    else:
        saved = layers_total + final + gradient_flow
        at_loss, in_layers = layers_total + final, layers_total + gradient_flow
        note = "no checkpointing: every layer keeps its activations until its backward step"
    if mlp_tokens < tokens:
        note += f"; the MLP runs in tiles of {mlp_tokens:,} tokens"
    if settings.recipe.stage == "dpo":
        # Measured on our DPO step (tests/test_estimate_simulate_dpo.py): its peak is that
        # of an SFT step over the same sequences.
        note += (
            "; DPO: no dropout (TRL turns it off); the reference forward (no gradients) "
            "runs while these are held, one layer at a time, within the backward pass's "
            "working set: it costs time, not memory"
        )
    # With checkpointing the two moments are apart: the loss's buffers are freed before the
    # first layer is recomputed. (An fp32 stream's layers once seemed to need their sum: the
    # simulated GPU ran SiLU's backward as separate steps with fp32 temporaries as large as
    # the MLP, which a GPU's one kernel never allocates; see fake_cuda.)
    apart = settings.gradient_checkpointing
    if apart and facts.residual_bytes == facts.act_bytes == 2 and not arch.layer_norm:
        # HF RMSNorm's backward runs in fp32: past ~16k tokens (the MLP in tiles, attention
        # in flash kernels) it is the layer's biggest moment, about ten fp32 copies of its
        # input (upcast input, its square, the normalised input and their gradients; the
        # simulated step lists them at the peak).
        in_layers = max(in_layers, kept + RMSNORM_BACKWARD_FP32_COPIES * 4 * h_tokens(arch, tokens))
    return ActivationEstimate(
        saved, layer, note, offloaded, at_loss, in_layers, moments_apart=apart
    )
