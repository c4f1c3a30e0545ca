"""The trainer's memory savers: what each one does to the model or the trainer.

Each saver trades a little speed (or, for LoRA dropout 0, some regularisation) for GPU
memory at long context; which ones a run uses is decided before (core.estimate's pick,
or the user's settings) and applied here to the loaded model and the built trainer:

- frozen parts in 16 bit: a quantized base is prepared without PEFT's fp32 upcast of
  the embeddings, LM head and norms (which makes the whole residual stream and the MLP
  intermediates fp32: about twice the checkpointed memory);
- activation offloading: the input each checkpointed layer keeps for its recomputation
  goes to CPU RAM (pinned on CUDA) and comes back for the backward pass;
- tiled MLP: the MLP runs over the tokens in tiles, each tile under its own checkpoint,
  so its [tokens x intermediate] tensors exist one tile at a time;
- Liger kernels (CUDA only, the liger-kernel extra): fused RMSNorm, RoPE and SwiGLU.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math

from core.estimate import (
    ArchitectureError,
    detected_gpu,
    estimate,
    load_architecture,
    run_for_recipe,
)
from core.estimate.activations import MLP_TILE_TOKENS
from core.estimate.savers import SAVER_FIELDS, has_auto
from core.hardware import detect_hardware
from core.training.memory_guard import read_memory

# MLP_TILE_TOKENS (tokens per MLP tile) is the estimate's figure, one for both: past it a
# tile's intermediates (4096 x 11008 x 2 bytes = 86 MiB on a 7B) are small against the
# layer inputs, while fewer, larger matmuls stay fast.
# Bytes per element of an offloaded layer input (bf16/fp16 hidden states on a GPU).
OFFLOADED_BYTES_PER_VALUE = 2


class MemorySaverError(RuntimeError):
    """A saver that cannot be used on this machine; the message says what to do."""


def prepare_quantized_without_upcast(model, gradient_checkpointing: bool):
    """PEFT's prepare_model_for_kbit_training without its cast of every 16-bit weight to
    fp32: the base is frozen, the embedding output requires grad (so checkpointed layers
    see a graph) and gradient checkpointing is on. The norms, embeddings and LM head stay in
    the compute dtype, and with them the residual stream (an fp32 norm weight alone would
    turn the stream fp32 again, since bitsandbytes' layers return their input's dtype)."""
    for param in model.parameters():
        param.requires_grad = False
    if gradient_checkpointing:
        model.enable_input_require_grads()
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def liger_kernels_available() -> bool:
    return importlib.util.find_spec("liger_kernel") is not None


def liger_kernel_reason(device: str) -> str | None:
    """Why Liger kernels cannot be used here, or None when they can."""
    if device != "cuda":
        return "Liger kernels are Triton kernels for CUDA GPUs; this run is on the " + device
    if not liger_kernels_available():
        return "Liger kernels need the liger-kernel extra: pip install 'finetune-studio[liger]'"
    return None


def offloaded_host_bytes(num_layers: int, tokens: int, hidden_size: int) -> int:
    """CPU RAM that activation offloading holds at the end of the forward pass: the input
    of every checkpointed layer, tokens x hidden in 16 bit."""
    return num_layers * tokens * hidden_size * OFFLOADED_BYTES_PER_VALUE


def check_offload_fits_host(needed_bytes: int, available_bytes: int) -> None:
    """MemorySaverError when the offloaded activations would not fit the free CPU RAM
    (with a quarter kept free for the rest of the run and the system)."""
    if needed_bytes > 0.75 * available_bytes:
        gib = 1024**3
        raise MemorySaverError(
            f"offloading activations needs about {needed_bytes / gib:.1f} GiB of CPU RAM, "
            f"but only {available_bytes / gib:.1f} GiB is available: shorten the sequences, "
            "lower the micro batch, or turn activation offloading off"
        )


def offload_context(pin_memory: bool):
    """The context the trainer's training step runs in: every tensor autograd saves outside
    a checkpointed region (the checkpointed layers' inputs, above all) moves to CPU RAM and
    comes back when the backward pass needs it. Tensors saved inside a checkpoint are the
    checkpoint's business and stay where they are."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    return torch.autograd.graph.save_on_cpu(pin_memory=pin_memory)


def _tiled_mlp_forward(forward, tile_tokens: int):
    """`forward` (an MLP's, token-wise) over the tokens in tiles, each tile recomputed in
    the backward pass from its input alone."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # torch is heavy (seconds to import): loaded when a model is
    from torch.utils.checkpoint import checkpoint

    def tiled(hidden_states, *args, **kwargs):
        shape = hidden_states.shape
        tokens = math.prod(shape[:-1])
        if tokens <= tile_tokens or not torch.is_grad_enabled():
            return forward(hidden_states, *args, **kwargs)
        flat = hidden_states.reshape(tokens, shape[-1])
        outputs = [
            checkpoint(forward, tile, *args, use_reentrant=False, **kwargs)
            for tile in flat.split(tile_tokens)
        ]
        out = torch.cat(outputs)
        return out.reshape(*shape[:-1], out.shape[-1])

    tiled.tiled_mlp = True
    return tiled


def mlp_modules(model) -> list:
    """The dense per-token MLPs of the decoder layers (`*.mlp` returning one tensor). A
    mixture of experts is left alone: its router records logits for the auxiliary loss
    once per call, which tiles would split."""
    config = getattr(model, "config", None)
    text = config.get_text_config() if config is not None else None
    moe = any(
        getattr(text, name, 0) for name in ("num_local_experts", "num_experts", "n_routed_experts")
    )
    if moe:
        return []
    return [
        module
        for name, module in model.named_modules()
        if name.rsplit(".", 1)[-1] == "mlp" and hasattr(module, "forward")
    ]


def apply_tiled_mlp(model, tile_tokens: int | None = None) -> int:
    """Patch each dense MLP to run in tiles of `tile_tokens`; returns how many were patched
    (0 on a mixture of experts). Sequences of at most one tile run as before."""
    tile_tokens = tile_tokens or MLP_TILE_TOKENS
    patched = 0
    for module in mlp_modules(model):
        if getattr(module.forward, "tiled_mlp", False):
            continue
        module.forward = _tiled_mlp_forward(module.forward, tile_tokens)
        patched += 1
    return patched


def apply_trainer_savers(
    trainer, offload_activations: bool, tiled_mlp: bool, device: str
) -> list[str]:
    """Turn the chosen savers on in a built SFTTrainer; returns one log line per saver."""
    notes: list[str] = []
    if offload_activations:
        # TRL's activation_offloading makes CUDA streams, which a CPU-only build refuses;
        # torch's save_on_cpu works everywhere and pins the copies on a GPU.
        trainer.maybe_activation_offload_context = offload_context(pin_memory=device == "cuda")
        notes.append("memory saver: checkpointed layer inputs are offloaded to CPU RAM")
    else:
        trainer.maybe_activation_offload_context = contextlib.nullcontext()
    if tiled_mlp:
        count = apply_tiled_mlp(trainer.model)
        if count:
            notes.append(
                f"memory saver: {count} MLPs run in tiles of {MLP_TILE_TOKENS:,} tokens, each "
                "recomputed on its own in the backward pass"
            )
        else:
            notes.append("memory saver: tiled MLP does not apply to a mixture of experts")
    return notes


def apply_memory_savers(trainer, config, device: str, check_host_ram: bool = True) -> list[str]:
    """The savers `config` turns on ("on"; "auto" left unresolved means off) applied to a
    built trainer, after checking that offloaded activations fit this machine's free RAM."""
    offload = config.offload_activations == "on"
    if offload and check_host_ram:
        text = trainer.model.config.get_text_config()
        needed = offloaded_host_bytes(
            text.num_hidden_layers,
            config.micro_batch_size * config.max_seq_length,
            text.hidden_size,
        )
        check_offload_fits_host(needed, read_memory().available_bytes)
    return apply_trainer_savers(trainer, offload, config.tiled_mlp == "on", device)


def resolve_auto_savers(config, plan, model_path, gpu=None) -> tuple:
    """(config with its "auto" savers decided, one reason per saver turned on).

    On a CUDA GPU the estimate's pick decides (core.estimate.savers: cheapest first, only
    while the run does not fit the card); elsewhere there is no GPU memory to save and
    "auto" means off. `gpu` (a GpuSpec) replaces the detected card in tests."""
    if not has_auto(config):
        return config, []
    off = {name: "off" for name in SAVER_FIELDS if getattr(config, name) == "auto"}
    if plan.device != "cuda":
        return config.replace(**off), []
    gpu = gpu or detected_gpu(detect_hardware())
    if gpu is None:
        return config.replace(**off), []
    run = run_for_recipe(
        config, device="cuda", resolved_precision=plan.precision, used_optimizer=plan.optimizer
    )
    try:
        picked = estimate(load_architecture(str(model_path)), run, gpu)
    except (ArchitectureError, ValueError) as error:  # the estimate is advice, never a stop
        return config.replace(**off), [f"memory savers left off: no estimate ({error})"]
    chosen = picked.estimated_run.recipe
    changes = {name: getattr(chosen, name) for name in SAVER_FIELDS}
    changes["lora_dropout"] = chosen.lora_dropout
    reasons = [f"memory saver turned on: {reason}" for reason in picked.savers_turned_on]
    if chosen.offload_activations == "on" and picked.memory.offloaded_gib:
        reasons.append(
            f"activation offloading will hold about {picked.memory.offloaded_gib:.1f} GiB of "
            "CPU RAM (checked against the free RAM before training)"
        )
    return config.replace(**changes), reasons
