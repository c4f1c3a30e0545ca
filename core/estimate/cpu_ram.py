"""The RAM a training run needs on a machine without a CUDA GPU.

On the CPU every tensor lives in the process's own memory, so the figure to compare with
the machine's available RAM is the whole process's peak RSS: the run's tensors in the
CPU's fp32 (weights, LoRA adapters, gradients, optimizer states, activations from the
same arithmetic as the GPU estimate) plus what the CPU path adds that a GPU does not see:
TRL's fused LM head falls back to plain torch ops on whole fp32 tiles, glibc keeps freed
blocks in its heap, a quantized base is read in fp32 first, and Python, the libraries and
(in the desktop app) Qt are resident. Each constant below names its measurement;
benchmarks/cpu_ram_accuracy.py re-measures them against real runs of this trainer.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass

import psutil

from core.estimate.activations import estimate_activations
from core.estimate.architecture import ModelArchitecture
from core.estimate.gpus import GpuSpec
from core.estimate.memory import adapter_bytes, decoder_length, estimate_memory
from core.estimate.moe_lora import adapts_experts, merged_expert_bytes
from core.estimate.run import EstimateRun
from core.estimate.settings import PROJECT_STACK

GIB = 1024**3
# Each term below was measured with benchmarks/cpu_ram_accuracy.py: real runs of this
# trainer (SmolLM2-135M and the tiny Llama; LoRA, QLoRA, full; 256-2048 tokens per micro
# batch; with and without gradient checkpointing), peak RSS of the process, torch 2.x,
# transformers 5, TRL 1.x, glibc malloc, Linux x86-64.
#
# The training process before its tensors: Python, torch, transformers, peft, trl and
# datasets imported (0.39 GiB), plus what a run adds without any model tensor: the
# tokenizer, the datasets' Arrow tables, the Trainer and the C allocator's first arenas
# (a run of the 100k-parameter tiny model peaks at 0.52 GiB).
PROCESS_BASELINE_BYTES = int(0.52 * GIB)
# The desktop app trains on a thread of its own process: Qt, the windows and their pages
# are resident too (0.70 GiB with Qt and the libraries imported, 0.39 without).
GUI_BASELINE_BYTES = int(0.31 * GIB)
# The LM head's loss. TRL's fused head scores tiles of up to 4096 tokens x 32768
# vocabulary entries; without Triton (every CPU) its fallback runs plain torch ops on the
# whole fp32 tile, each making a tile-sized temporary: the forward about 5 (scaled
# logits, the masked copy, the shifted and exponentiated copies, e * z), the backward
# about 9 (log p, p, the one-hot mask and its float, the gradient and its scaled
# copies). glibc keeps the forward's freed tiles in its heap for the backward rather
# than giving them back, so the process holds about 15 tiles at its peak (fitted: 14-16).
FUSED_HEAD_TOKENS = 4096
FUSED_HEAD_VOCAB = 32768
LOSS_TILE_COPIES = 15.0
# The saved activations of an fp32 CPU run measure about 3/4 of the estimator's (GPU)
# arithmetic once the loss tiles above are counted apart (fitted: 0.7-0.8).
CPU_ACTIVATION_SHARE = 0.75
# QLoRA / 8-bit on the CPU, fitted to two QLoRA runs (256 and 1024 tokens; the cause of
# the second is not pinned down): the checkpoint's fp32 linear weights are read before
# they are quantized and freed in pieces of a few MiB that glibc keeps in its heap (load
# peak 0.45 GiB over LoRA's); the run reuses most of those pages, about a third stays.
# The run's step memory (activations, loss) measures 1.3x LoRA's: bitsandbytes' CPU
# path dequantizes each 4-bit weight to fp32 and keeps more fp32 temporaries per token.
QUANTIZED_LOADING_COPIES = 0.33
QUANTIZED_DYNAMIC_FACTOR = 1.3
# Above this share of the available RAM the run is too close to the edge: other programs
# and the page cache move, and the memory guard stops runs at 10 % free.
SAFE_SHARE_OF_AVAILABLE = 0.85


@dataclass(frozen=True)
class CpuRamEstimate:
    tensors_bytes: int  # the run's tensors at their peak, with what the allocator keeps
    baseline_bytes: int  # the process before the model is loaded
    available_bytes: int | None  # RAM available on this machine now
    total_bytes: int | None
    breakdown: dict  # component key -> bytes (weights, lora, gradients, ...)

    @property
    def peak_bytes(self) -> int:
        return self.tensors_bytes + self.baseline_bytes

    @property
    def fits(self) -> bool | None:
        if not self.available_bytes:
            return None
        return self.peak_bytes <= self.available_bytes * SAFE_SHARE_OF_AVAILABLE

    def summary(self) -> str:
        """'about 1.4 GiB of RAM; 18.2 GiB available: fits' and the like."""
        need = f"about {self.peak_bytes / GIB:.1f} GiB of RAM"
        if not self.available_bytes:
            return need
        available = f"{self.available_bytes / GIB:.1f} GiB available"
        if self.total_bytes:
            available += f" of {self.total_bytes / GIB:.0f} GiB"
        verdict = "fits" if self.fits else "does not fit"
        return f"{need}; {available}: {verdict}"


def cpu_settings(settings: EstimateRun) -> EstimateRun:
    """The CPU trains in fp32: there is no fast bf16/fp16 matmul there to mix with."""
    return settings.replace(precision="fp32", num_gpus=1, sharding="none")


def in_gui_process() -> bool:
    """Whether this process runs the desktop app (then a run trains on one of its threads)."""
    return "PySide6.QtWidgets" in sys.modules


def loss_bytes(model: ModelArchitecture, settings: EstimateRun, stack) -> int:
    """The LM head's loss on the CPU (fp32), at the start of the backward pass."""
    tokens = settings.sequences_per_micro_batch * settings.max_seq_length
    if stack.fused_lm_head and not model.encoder_decoder:
        tile = min(tokens, FUSED_HEAD_TOKENS) * min(model.vocab_size, FUSED_HEAD_VOCAB) * 4
        total = LOSS_TILE_COPIES * tile + tokens * model.hidden_size * 4 * 2  # hidden, its grad
        if settings.method == "full":
            total += model.vocab_size * model.hidden_size * 4  # the head's fp32 gradient
        return int(total)
    if model.encoder_decoder:
        tokens = settings.sequences_per_micro_batch * decoder_length(model, settings)
    return int(stack.logits_bytes * tokens * model.vocab_size)


def estimate_cpu_ram(
    model: ModelArchitecture,
    settings: EstimateRun,
    available_bytes: int | None = None,
    total_bytes: int | None = None,
    gui: bool | None = None,
) -> CpuRamEstimate:
    """Peak resident memory of a CPU training run; ValueError for settings that do not apply.

    gui: whether the run trains inside the desktop app's process (None: this process's).
    """
    stack = dataclasses.replace(PROJECT_STACK, cuda_context_gib=0.0, allocator_slack=0.0)
    cpu = cpu_settings(settings)
    # The capacity only decides "fits" on a GPU; here we compare with available RAM below.
    machine = GpuSpec(name="CPU", memory_gib=1024.0, tflops=1.0, bf16=False, source="detected")
    memory = estimate_memory(model, cpu, machine, stack)  # validates the settings
    parts = memory.breakdown()
    weights = int(parts["weights"] * GIB)
    lora = int(parts["lora"] * GIB)
    optimizer = int(parts["optimizer"] * GIB)
    # fp32 gradients for every trainable parameter. torch's AdamW runs its per-parameter
    # loop on the CPU (foreach is for CUDA tensors only): no step temporaries worth counting.
    gradients = memory.trainable_params * 4
    a_bytes = adapter_bytes(cpu, stack)
    activations = estimate_activations(
        model, cpu, stack, a_bytes, decoder_length(model, cpu)
    ).saved_bytes
    if adapts_experts(model, cpu, stack) and not stack.lora_reaches_experts:
        activations += merged_expert_bytes(model, cpu, 4)
    activations = int(activations * CPU_ACTIVATION_SHARE)
    loss = loss_bytes(model, cpu, stack)
    workspace = model.largest_linear_params * 4 if cpu.quantized_bits else 0
    loading = int(QUANTIZED_LOADING_COPIES * model.linear_params * 4) if cpu.quantized_bits else 0
    # Weights: safetensors are mapped and read in place (fp32 to fp32), so they count
    # once. Gradients appear in the backward pass as the activations and loss tiles are
    # freed and take their heap pages: with one micro batch per step the larger of the two
    # counts; with accumulation the gradients stay through the next micro batch's forward.
    if cpu.quantized_bits:
        activations = int(activations * QUANTIZED_DYNAMIC_FACTOR)
        loss = int(loss * QUANTIZED_DYNAMIC_FACTOR)
    dynamic = activations + loss + workspace
    accumulating = cpu.gradient_accumulation > 1
    in_pass = dynamic + gradients if accumulating else max(dynamic, gradients)
    breakdown = {
        "weights": weights,
        "lora": lora,
        "gradients": gradients,
        "optimizer": optimizer,
        "activations": activations,
        "logits": loss,
        "workspace": workspace,
        "loading": loading,
    }
    if in_pass == gradients and gradients > dynamic:
        breakdown["activations"] = breakdown["logits"] = breakdown["workspace"] = 0
    elif in_pass == dynamic:
        breakdown["gradients"] = 0
    baseline = PROCESS_BASELINE_BYTES
    if in_gui_process() if gui is None else gui:
        baseline += GUI_BASELINE_BYTES
    return CpuRamEstimate(
        tensors_bytes=weights + lora + optimizer + loading + in_pass,
        baseline_bytes=baseline,
        available_bytes=available_bytes,
        total_bytes=total_bytes,
        breakdown=breakdown,
    )


def this_cpu_label(cpu_cores: int, total_bytes: int | None) -> str:
    """The Estimate page's entry for training here without a GPU:
    "This computer's CPU (8 cores, 31.3 GiB RAM)"."""
    ram = f", {total_bytes / GIB:.1f} GiB RAM" if total_bytes else ""
    cores = f"{cpu_cores} core{'' if cpu_cores == 1 else 's'}"
    return f"This computer's CPU ({cores}{ram})"


def this_machine_ram() -> tuple[int | None, int | None]:
    """(available, total) bytes of RAM now, or (None, None) when psutil cannot tell."""
    try:
        memory = psutil.virtual_memory()
        return int(memory.available), int(memory.total)
    except Exception:
        return None, None
