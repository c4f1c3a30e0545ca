"""The RAM a training run needs on a machine without a CUDA GPU.

On the CPU every tensor lives in the process's own memory, so the figure to compare with
the machine's available RAM is the whole process: the tensors of the run (weights in the
CPU's fp32, LoRA adapters, gradients, optimizer states, activations and the loss, from
the same arithmetic as the GPU estimate without a CUDA context) plus what Python,
torch, transformers, TRL and the app hold before the model is loaded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from core.estimate.architecture import ModelArchitecture
from core.estimate.gpus import GpuSpec
from core.estimate.memory import estimate_memory
from core.estimate.settings import PROJECT_STACK, RunSettings

GIB = 1024**3
# Measured: the app's process with Qt, the Train page, torch, transformers, peft, datasets
# and trl imported holds 0.70 GiB resident (torch 2.x, Linux x86-64).
PROCESS_BASELINE_BYTES = int(0.7 * GIB)
# glibc's malloc arenas and torch's CPU allocator keep freed blocks for reuse; like the CUDA
# allocator's fragmentation, a share of the tensors that change size within a step.
CPU_ALLOCATOR_SLACK = 0.25
# Above this share of the available RAM the run is too close to the edge: other programs
# and the page cache move, and the memory guard stops runs at 10 % free.
SAFE_SHARE_OF_AVAILABLE = 0.85


@dataclass(frozen=True)
class CpuRamEstimate:
    tensors_bytes: int  # the run's tensors at their peak, plus the copy made while loading
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


def cpu_settings(settings: RunSettings) -> RunSettings:
    """The CPU trains in fp32: there is no fast bf16/fp16 matmul there to mix with."""
    return settings.replace(precision="fp32", num_gpus=1, sharding="none")


def estimate_cpu_ram(
    model: ModelArchitecture,
    settings: RunSettings,
    available_bytes: int | None = None,
    total_bytes: int | None = None,
) -> CpuRamEstimate:
    """Peak resident memory of a CPU training run; ValueError for settings that do not apply."""
    stack = dataclasses.replace(
        PROJECT_STACK, cuda_context_gib=0.0, allocator_slack=CPU_ALLOCATOR_SLACK
    )
    # The capacity only decides "fits" on a GPU; here we compare with available RAM below.
    machine = GpuSpec(name="CPU", memory_gib=1024.0, tflops=1.0, bf16=False, source="detected")
    memory = estimate_memory(model, cpu_settings(settings), machine, stack)
    breakdown = {key: int(gib * GIB) for key, gib in memory.breakdown().items()}
    # Loading reads the checkpoint into a second copy of the weights, and the C allocator
    # keeps the freed pages for the steps that follow rather than giving them back: the
    # process's peak holds the weights once more. (Measured on SmolLM2-135M LoRA, 512
    # tokens: peak RSS 3.1-3.2 GiB, 1.1-1.5x this estimate; without this term 1.4-2.1x.)
    breakdown["loading"] = breakdown.get("weights", 0)
    return CpuRamEstimate(
        tensors_bytes=int(memory.peak_gib * GIB) + breakdown["loading"],
        baseline_bytes=PROCESS_BASELINE_BYTES,
        available_bytes=available_bytes,
        total_bytes=total_bytes,
        breakdown=breakdown,
    )


def this_machine_ram() -> tuple[int | None, int | None]:
    """(available, total) bytes of RAM now, or (None, None) when psutil cannot tell."""
    try:
        import psutil

        memory = psutil.virtual_memory()
        return int(memory.available), int(memory.total)
    except Exception:
        return None, None
