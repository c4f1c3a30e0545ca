"""Peak GPU memory per GPU for one training run, with its breakdown and assumptions.

The peak is the larger of two moments: the start of the backward pass (weights,
optimizer states, all saved activations and the loss buffers) and the optimizer step
(weights, states, every gradient and the optimizer's temporaries). The caching
allocator's fragmentation and the CUDA context come on top; paged optimizer states can
spill to CPU RAM, so they count in the peak but not against fitting.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.estimate.activations import (
    activation_facts,
    adapted_roles,
    estimate_activations,
    fp32_upcast,
)
from core.estimate.architecture import ModelArchitecture
from core.estimate.gpus import GpuSpec
from core.estimate.grpo import generation_bytes, is_grpo
from core.estimate.moe_lora import adapts_experts, expert_lora_counts, merged_expert_bytes
from core.estimate.run import EstimateRun
from core.estimate.settings import OPTIMIZER_STATE, StackAssumptions

GIB = 1024**3
# NF4 (QLoRA paper, section 3): 4 bits per weight plus an fp32 absmax per block of 64;
# double quantization stores that absmax in 8 bits with an fp32 constant per 256 blocks.
NF4_BYTES = 0.5 + 4 / 64
NF4_DOUBLE_QUANT_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)
# Transformers' fused LM head in TRL scores 4096 tokens x 32768 vocabulary entries at a time.
FUSED_HEAD_TOKENS = 4096
FUSED_HEAD_VOCAB = 32768

COMPONENT_TITLES = {
    "weights": "Weights",
    "lora": "LoRA adapters",
    "gradients": "Gradients",
    "optimizer": "Optimizer states",
    "activations": "Activations",
    "logits": "Logits and loss",
    "workspace": "Kernel workspaces",
    "allocator": "Allocator reserve",
    "cuda_context": "CUDA context",
}


@dataclass(frozen=True)
class MemoryComponent:
    key: str
    gib: float
    detail: str

    @property
    def title(self) -> str:
        return COMPONENT_TITLES[self.key]


@dataclass(frozen=True)
class MemoryEstimate:
    components: tuple[MemoryComponent, ...]
    allocated_gib: float  # what torch.cuda.max_memory_allocated would report
    reserved_gib: float  # ... max_memory_reserved (allocated + fragmentation)
    peak_gib: float  # what the card must hold (nvidia-smi): reserved + context + paged states
    paged_gib: float  # part of the peak that a paged optimizer can move to CPU RAM
    capacity_gib: float
    phase: str
    trainable_params: int
    lora_params: int
    assumptions: tuple[str, ...] = field(default_factory=tuple)
    warnings: tuple[str, ...] = field(default_factory=tuple)
    offloaded_gib: float = 0.0  # CPU RAM (pinned on CUDA) that activation offloading holds

    @property
    def fits(self) -> bool:
        return self.peak_gib - self.paged_gib <= self.capacity_gib

    @property
    def pages_to_cpu(self) -> bool:
        return self.fits and self.peak_gib > self.capacity_gib

    @property
    def headroom_gib(self) -> float:
        return self.capacity_gib - self.peak_gib

    def breakdown(self) -> dict[str, float]:
        return {component.key: component.gib for component in self.components}


def param_bytes(settings: EstimateRun) -> int:
    """Bytes per stored weight of the (non-quantized) model."""
    if settings.precision in ("fp32", "bf16-mixed"):
        return 4
    if settings.method == "full" and settings.precision == "fp16":
        return 4  # fp16 training needs fp32 trainable weights for the gradient scaler
    return 2


def adapter_bytes(settings: EstimateRun, stack: StackAssumptions) -> int:
    if settings.precision == "fp32" or stack.adapter_dtype == "fp32":
        return 4
    if stack.adapter_dtype == "compute":
        return 2
    # PEFT keeps adapters in fp32 on a 16-bit model; TRL casts them to bf16 on a quantized one.
    return 2 if settings.quantized_bits else 4


def lora_parameter_count(
    arch: ModelArchitecture, settings: EstimateRun, stack: StackAssumptions | None = None
) -> tuple[int, int]:
    """(LoRA parameters, adapted linear layers) for the settings' rank and targets."""
    if settings.method == "full":
        return 0, 0
    roles = adapted_roles(arch, settings)
    # Target names reaching expert linear layers (a transformers 4 stack), or all-linear
    # reaching the fused expert parameters (this trainer: core.estimate.moe_lora).
    by_name = stack is not None and stack.lora_reaches_experts
    params = layers = 0
    for layer in arch.linear_layers():
        if layer.expert and not by_name:
            continue
        if layer.role in roles:
            params += settings.lora_r * (layer.d_in + layer.d_out) * layer.count
            layers += layer.count
    if not by_name and adapts_experts(arch, settings, stack):
        expert_params, expert_matrices = expert_lora_counts(arch, settings.lora_r)
        params += expert_params
        layers += expert_matrices
    return params, layers


def _weights(arch: ModelArchitecture, settings: EstimateRun, stack: StackAssumptions):
    """(bytes, 16-bit working copies, detail)."""
    p = param_bytes(settings)
    other = arch.embedding_params + arch.lm_head_params + arch.small_params
    bits = settings.quantized_bits
    if bits:
        per = (NF4_DOUBLE_QUANT_BYTES if settings.double_quant else NF4_BYTES) if bits == 4 else 1
        other_bytes = 4 if fp32_upcast(settings, stack) else p
        quantized = arch.linear_params * per
        if bits == 8:
            quantized += 4 * sum(layer.d_out * layer.count for layer in arch.linear_layers())
        total = quantized + other * other_bytes
        label = (
            f"NF4 {'with' if settings.double_quant else 'without'} double quantization "
            f"({per * 8:.3f} bits)"
            if bits == 4
            else "int8 (LLM.int8) with an fp32 scale per row"
        )
        detail = (
            f"{arch.linear_params / 1e9:.2f}B linear weights in {label}; embeddings, "
            f"LM head and norms ({other / 1e9:.2f}B) in {other_bytes * 8}-bit"
        )
        return total, 0, detail
    total = arch.total_params * p
    copies = 0
    if p == 4 and settings.precision != "fp32":
        # Autocast keeps a 16-bit copy of each matmul weight for the backward pass.
        copies = 2 * (arch.linear_params + (arch.lm_head_params or arch.embedding_params))
    detail = f"{arch.total_params / 1e9:.2f}B weights in {p * 8}-bit"
    if copies:
        detail += " plus 16-bit autocast copies of the matmul weights"
    if settings.method == "full" and (
        settings.recipe.stage == "dpo" or (is_grpo(settings) and settings.recipe.grpo_beta > 0)
    ):
        # Full DPO needs a frozen reference model beside the one it trains (TRL loads it in
        # the policy's dtype); with LoRA the reference is the base with the adapter off.
        total += arch.total_params * p
        detail += f"; {settings.recipe.stage.upper()}'s frozen reference model, a second copy"
    return total, copies, detail


def _optimizer_bytes(
    arch: ModelArchitecture,
    settings: EstimateRun,
    stack: StackAssumptions,
    trainable: int,
    state_dtype_bytes: int,
) -> tuple[float, float, str]:
    """(state bytes, step temporaries, detail) for the trainable parameters."""
    spec = OPTIMIZER_STATE[settings.optimizer]
    if spec.factored:
        if settings.method == "full":
            rows_cols = sum(
                (layer.d_in + layer.d_out) * layer.count for layer in arch.linear_layers()
            )
            rows_cols += (arch.vocab_size + arch.hidden_size) * (1 if arch.tie_embeddings else 2)
            states = 4.0 * (rows_cols + arch.small_params)
        else:
            roles = adapted_roles(arch, settings)
            experts = adapts_experts(arch, settings, stack)
            states = 4.0 * sum(
                (2 * settings.lora_r + layer.d_in + layer.d_out) * layer.count
                for layer in arch.linear_layers()
                if layer.role in roles and (experts or not layer.expert)
            )
        return (
            states,
            0.0,
            "Adafactor: factored second moments only (about 4 bytes per row and column)",
        )
    moment = spec.moment_bytes or state_dtype_bytes
    states = float(trainable * spec.moments * moment)
    foreach = spec.foreach_temporaries and stack.foreach_optimizer
    temporaries = float(trainable * state_dtype_bytes) if foreach else 0.0
    per_param = spec.moments * moment
    detail = f"{settings.optimizer}: {per_param} bytes per trainable parameter"
    if spec.paged:
        detail += " (paged: can spill to CPU RAM)"
    return states, temporaries, detail


def decoder_length(arch: ModelArchitecture, settings: EstimateRun) -> int:
    if not arch.encoder_decoder:
        return 0
    return settings.decoder_seq_len or max(1, settings.max_seq_length // 4)


def _logits(
    arch: ModelArchitecture, settings: EstimateRun, stack: StackAssumptions, act: int, p: int
) -> tuple[float, str]:
    batch = settings.sequences_per_micro_batch
    vocab = arch.vocab_size
    if arch.encoder_decoder:
        tokens = batch * decoder_length(arch, settings)
    else:
        tokens = batch * settings.max_seq_length
    if stack.fused_lm_head and not arch.encoder_decoder:
        tile = min(tokens, FUSED_HEAD_TOKENS) * min(vocab, FUSED_HEAD_VOCAB) * act
        hidden = tokens * arch.hidden_size * (act + 4 + act)  # copy, fp32 gradient, its cast
        stats = tokens * 40
        total = tile + hidden + stats
        detail = "fused LM head: scored in tiles of 4096 tokens x 32768 entries, no full logits"
        head_fp32 = p == 4 or fp32_upcast(settings, stack)
        if head_fp32 and act == 2:
            # TRL casts the fp32 head to the compute dtype one vocabulary tile at a time.
            total += min(vocab, FUSED_HEAD_VOCAB) * arch.hidden_size * act
            detail += "; the fp32 head is cast to 16-bit one tile at a time"
        elif settings.quantized_bits and act == 2:
            # A 16-bit head on a quantized base (no upcast): the simulated step shows one
            # whole copy of the head's weight at the loss (0.98 GiB for a 128k vocabulary).
            total += vocab * arch.hidden_size * act
            detail += "; one 16-bit copy of the head's weight"
        if settings.method == "full":
            total += vocab * arch.hidden_size * (4 + p)  # the head's fp32 gradient accumulator
            detail += "; the head's gradient is accumulated in fp32"
        return total, detail
    total = stack.logits_bytes * tokens * vocab
    detail = (
        f"{tokens} tokens x {vocab} vocabulary: {stack.logits_bytes:g} bytes each at the loss "
        "backward (fp32 log-softmax, its gradient and the logits' gradient)"
    )
    return total, detail


def _sharded(value: float, gpus: int) -> float:
    return value / gpus


def estimate_memory(
    arch: ModelArchitecture, settings: EstimateRun, gpu: GpuSpec, stack: StackAssumptions
) -> MemoryEstimate:
    """Peak memory per GPU; ValueError for settings the model cannot take."""
    p = param_bytes(settings)
    a_bytes = adapter_bytes(settings, stack)
    act = 4 if settings.precision == "fp32" else 2
    lora_params, lora_layers = lora_parameter_count(arch, settings, stack)
    full = settings.method == "full"
    trainable = arch.total_params if full else lora_params
    state_dtype = p if full else a_bytes
    grad_bytes = (2 if full and p == 2 else 4) if full else a_bytes

    weights, copies, weights_detail = _weights(arch, settings, stack)
    lora = float(lora_params * a_bytes)
    grads = float(trainable * grad_bytes)
    optimizer, step_temp, optimizer_detail = _optimizer_bytes(
        arch, settings, stack, trainable, state_dtype
    )
    dec_len = decoder_length(arch, settings)
    activations = estimate_activations(arch, settings, stack, a_bytes, dec_len)
    logits, logits_detail = _logits(arch, settings, stack, act, p)
    temporaries = 0.0
    if settings.quantized_bits:
        temporaries = arch.largest_linear_params * act  # one dequantized weight at a time
    merged_experts = 0.0
    if adapts_experts(arch, settings, stack) and not stack.lora_reaches_experts:
        # PEFT merges each expert stack with its adapters in every forward (moe_lora).
        merged_experts = merged_expert_bytes(arch, settings, p)

    assumptions = [f"Stack: {stack.name}."]
    warnings: list[str] = []
    gpus = settings.num_gpus
    sharding = settings.effective_sharding
    gathered = 0.0
    if sharding == "fsdp":
        layers = arch.num_layers + arch.num_decoder_layers
        gathered = 2 * weights / max(1, layers)  # the layer being computed and the prefetched one
        weights, lora = _sharded(weights, gpus), _sharded(lora, gpus)
        grads, optimizer = _sharded(grads, gpus), _sharded(optimizer, gpus)
        step_temp = _sharded(step_temp, gpus)
        assumptions.append(
            f"FSDP full shard (ZeRO-3) over {gpus} GPUs: weights, gradients and optimizer states "
            "are split; two layers are gathered whole at a time; activations are not split."
        )
    elif sharding == "zero2":
        grads, optimizer = _sharded(grads, gpus), _sharded(optimizer, gpus)
        step_temp = _sharded(step_temp, gpus)
        assumptions.append(
            f"ZeRO-2 over {gpus} GPUs: gradients and optimizer states are split, each GPU "
            "holds all weights."
        )
    elif gpus > 1:
        grads *= 2  # DDP's gradient buckets are a second copy
        assumptions.append(
            f"DDP over {gpus} GPUs: each holds everything, plus DDP's gradient buckets."
        )
    if settings.sharding != "none" and gpus == 1:
        warnings.append(f"Sharding ({settings.sharding}) has no effect on one GPU.")

    spec = OPTIMIZER_STATE[settings.optimizer]
    paged = optimizer if spec.paged else 0.0
    resident_optimizer = optimizer - paged
    persistent = weights + gathered + lora + resident_optimizer
    grads_in_pass = grads if settings.gradient_accumulation > 1 else 0.0
    held, held_logits = activations.saved_bytes, logits
    if activations.moments_apart:
        held = max(activations.at_loss_bytes + logits, activations.in_layers_bytes)
        held_logits = logits if activations.at_loss_bytes + logits >= held else 0.0
        held -= held_logits
    forward_backward = (
        persistent + copies + grads_in_pass + held + merged_experts + held_logits + temporaries
    )
    step = persistent + grads + step_temp
    activations_note = activations.note
    generation, generation_detail = (
        generation_bytes(arch, settings, activation_facts(arch, settings, stack, a_bytes), a_bytes)
        if is_grpo(settings)
        else (0.0, "")
    )
    if generation and persistent + copies + generation > max(forward_backward, step):
        # GRPO writing its answers: no gradients or activations, the KV cache instead.
        phase = "GRPO answer generation"
        allocated = persistent + copies + generation
        parts = {
            "weights": weights + gathered + copies,
            "gradients": 0.0,
            "activations": generation,
            "logits": 0.0,
            "temporaries": 0.0,
        }
        activations_note = generation_detail
    elif forward_backward >= step:
        phase = "start of the backward pass"
        allocated = forward_backward
        parts = {
            "weights": weights + gathered + copies,
            "gradients": grads_in_pass,
            "activations": held + merged_experts,
            "logits": held_logits,
            "temporaries": temporaries,
        }
    else:
        phase = "optimizer step"
        allocated = step
        parts = {
            "weights": weights + gathered,
            "gradients": grads,
            "activations": 0.0,
            "logits": 0.0,
            "temporaries": step_temp,
        }
    # Fragmentation comes from the tensors whose sizes change within a step; weights, states
    # and gradients are the same blocks every step and reuse the cache exactly.
    dynamic = parts["activations"] + parts["logits"] + parts["temporaries"]
    slack = stack.allocator_slack * dynamic
    context = stack.cuda_context_gib * GIB
    peak = allocated + slack + context + paged

    def gib(value: float) -> float:
        return value / GIB

    lora_detail = "none (every weight trains)"
    if lora_params:
        lora_detail = (
            f"r {settings.lora_r} on {lora_layers} linear layers ({', '.join(settings.lora_target_modules)}): "
            f"{lora_params / 1e6:.1f}M parameters in {'fp32' if a_bytes == 4 else '16-bit'}"
        )
        if merged_experts:
            lora_detail += (
                f"; the {arch.num_experts} experts of each layer included (one adapter each, "
                f"no LoRA dropout), merged with their weights in every step: "
                f"{gib(merged_experts):.2f} GiB more at the backward pass"
            )
        elif arch.is_moe and not adapts_experts(arch, settings, stack):
            lora_detail += "; not the experts (use all-linear to adapt them)"
    gradients_detail = f"{trainable / 1e6:,.1f}M trainable parameters x {grad_bytes} bytes"
    if not grads_in_pass and phase != "optimizer step":
        gradients_detail += (
            " (with accumulation 1 they appear as activations are freed, so not at this peak)"
        )
    if phase == "optimizer step":
        workspace_detail = (
            "the foreach AdamW's temporary copy of one moment during the step"
            if parts["temporaries"]
            else "none at the optimizer step"
        )
    elif parts["temporaries"]:
        workspace_detail = (
            "one dequantized weight at a time (bitsandbytes dequantizes each layer's weight "
            "before its matmul)"
        )
    else:
        workspace_detail = "none worth counting at this peak"
    components = (
        MemoryComponent("weights", gib(parts["weights"]), weights_detail),
        MemoryComponent("lora", gib(lora), lora_detail),
        MemoryComponent("gradients", gib(parts["gradients"]), gradients_detail),
        MemoryComponent("optimizer", gib(optimizer), optimizer_detail),
        MemoryComponent("activations", gib(parts["activations"]), activations_note),
        MemoryComponent("logits", gib(parts["logits"]), logits_detail),
        MemoryComponent("workspace", gib(parts["temporaries"]), workspace_detail),
        # The two below hold no tensor, so the simulated step cannot see them.
        MemoryComponent(
            "allocator",
            gib(slack),
            f"PyTorch's caching allocator keeps freed blocks for reuse: rounding and "
            f"fragmentation, {stack.allocator_slack:.0%} of the memory that changes size "
            "within a step (activations, logits, workspaces); torch.cuda.memory_reserved() "
            "shows it, max_memory_allocated() does not",
        ),
        MemoryComponent(
            "cuda_context",
            gib(context),
            f"CUDA context, cuBLAS and kernel images outside PyTorch's allocator (about "
            f"{stack.cuda_context_gib:g} GiB; nvidia-smi shows it, torch does not)",
        ),
    )
    tokens = settings.sequences_per_micro_batch * settings.max_seq_length
    batch_words = f"{settings.micro_batch_size}"
    if is_grpo(settings):
        batch_words += (
            f" prompts x {settings.recipe.grpo_num_generations} answers "
            f"({settings.sequences_per_micro_batch} sequences of prompt and answer)"
        )
    elif settings.sequences_per_micro_batch != settings.micro_batch_size:
        batch_words += (
            f" pairs (chosen and rejected: {settings.sequences_per_micro_batch} sequences)"
        )
    assumptions += [
        f"Peak at the {phase}, for a micro batch of {batch_words} x "
        f"{settings.max_seq_length} = {tokens:,} tokens (the longest batch; shorter batches need less).",
        f"Weights: {weights_detail}.",
        f"Adapters: {lora_detail}.",
        f"Optimizer: {optimizer_detail}.",
        f"Activations: {activations_note}.",
        f"Loss: {logits_detail}.",
        f"Overheads no tensor shows (nvidia-smi counts them, torch.cuda.max_memory_allocated "
        f"does not): allocator reserve {gib(slack):.1f} GiB, CUDA context "
        f"{stack.cuda_context_gib:g} GiB; tensors alone peak at {gib(allocated):.1f} GiB.",
    ]
    if activations.offloaded_bytes:
        assumptions.append(
            f"Activation offloading keeps {gib(activations.offloaded_bytes):.1f} GiB of layer "
            "inputs in CPU RAM (pinned), checked against the machine's free RAM before the run."
        )
    if arch.encoder_decoder:
        assumptions.append(
            f"Encoder-decoder: {settings.max_seq_length} input tokens and {dec_len} target tokens per "
            "example; each decoder layer keeps the cross-attention K and V of every input token."
        )
    if arch.is_moe:
        assumptions.append(
            f"Mixture of experts: all {arch.num_experts} experts are held in memory; each token "
            f"runs through {arch.experts_per_token}, so activations and compute count "
            f"{arch.experts_per_token} expert MLPs."
        )
    if settings.precision == "bf16" and not gpu.bf16:
        warnings.append(f"{gpu.name} has no bfloat16: train in fp16 instead.")
    if spec.paged and peak > gpu.memory_gib * GIB and peak - paged <= gpu.memory_gib * GIB:
        warnings.append(
            "The paged optimizer states do not all fit: they will page to CPU RAM, which slows "
            "each step."
        )
    return MemoryEstimate(
        components=components,
        allocated_gib=gib(allocated),
        reserved_gib=gib(allocated + slack),
        peak_gib=gib(peak),
        paged_gib=gib(paged),
        capacity_gib=gpu.memory_gib,
        phase=phase,
        trainable_params=trainable,
        lora_params=lora_params,
        assumptions=tuple(assumptions),
        warnings=tuple(warnings),
        offloaded_gib=gib(activations.offloaded_bytes),
    )
