"""Hardware detection through NVML (cheap, no torch) and, when asked, through torch.

The window calls it without torch so that it appears fast; `doctor` and the trainer
ask torch too. Only NVML and CUDA calls are mocked in tests: everything else is real.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field

import psutil

GIB = 1024**3


@dataclass
class GpuInfo:
    index: int
    name: str
    total_memory_bytes: int
    free_memory_bytes: int | None = None
    compute_capability: tuple[int, int] | None = None
    driver: str | None = None
    backend: str = "cuda"

    @property
    def total_gib(self) -> float:
        return self.total_memory_bytes / GIB

    @property
    def supports_bf16(self) -> bool:
        # bf16 tensor cores arrived with Ampere (compute capability 8.0).
        return self.compute_capability is not None and self.compute_capability >= (8, 0)


@dataclass
class HardwareInfo:
    gpus: list[GpuInfo] = field(default_factory=list)
    mps: bool = False
    cpu_cores: int = 1
    ram_bytes: int = 0
    platform: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def has_cuda(self) -> bool:
        return any(gpu.backend == "cuda" for gpu in self.gpus)

    @property
    def best_device(self) -> str:
        if self.has_cuda:
            return "cuda"
        return "mps" if self.mps else "cpu"

    def summary(self) -> str:
        """One line for the status bar."""
        if self.gpus:
            first = self.gpus[0]
            more = f" (+{len(self.gpus) - 1} more)" if len(self.gpus) > 1 else ""
            return f"{first.name}, {first.total_gib:.0f} GiB{more}"
        if self.mps:
            return f"Apple GPU (MPS), {self.ram_bytes / GIB:.0f} GiB shared memory"
        return (
            f"No GPU found: CPU only ({self.cpu_cores} cores, {self.ram_bytes / GIB:.0f} GiB RAM); "
            "training works but is slow"
        )

    def as_dict(self) -> dict:
        return {
            "gpus": [
                {
                    "index": g.index,
                    "name": g.name,
                    "total_gib": round(g.total_gib, 2),
                    "free_gib": None
                    if g.free_memory_bytes is None
                    else round(g.free_memory_bytes / GIB, 2),
                    "compute_capability": ".".join(map(str, g.compute_capability))
                    if g.compute_capability
                    else None,
                    "bf16": g.supports_bf16,
                    "driver": g.driver,
                }
                for g in self.gpus
            ],
            "mps": self.mps,
            "cpu_cores": self.cpu_cores,
            "ram_gib": round(self.ram_bytes / GIB, 1),
            "platform": self.platform,
            "best_device": self.best_device,
            "notes": list(self.notes),
        }


def _ram_bytes() -> int:
    try:
        return int(psutil.virtual_memory().total)
    except Exception:
        try:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return 0


def _decode(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _nvml_gpus(notes: list[str]) -> list[GpuInfo]:
    try:
        import pynvml  # NVML: probed on a GPU query only
    except ImportError:
        notes.append("nvidia-ml-py is not installed; NVIDIA GPUs are found through torch only.")
        return []
    try:
        pynvml.nvmlInit()
    except Exception:
        # No NVIDIA driver: the common case on laptops and CI, not an error.
        return []
    gpus = []
    try:
        driver = _decode(pynvml.nvmlSystemGetDriverVersion())
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            try:
                capability = tuple(pynvml.nvmlDeviceGetCudaComputeCapability(handle))
            except Exception:
                capability = None
            gpus.append(
                GpuInfo(
                    index=index,
                    name=_decode(pynvml.nvmlDeviceGetName(handle)),
                    total_memory_bytes=int(memory.total),
                    free_memory_bytes=int(memory.free),
                    compute_capability=capability,
                    driver=driver,
                )
            )
    except Exception as error:
        notes.append(f"NVML answered partly ({error}); GPU details may be incomplete.")
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass
    return gpus


def _torch_devices(gpus: list[GpuInfo], notes: list[str]) -> tuple[list[GpuInfo], bool]:
    try:
        import torch  # torch is heavy: imported when first needed
    except ImportError:
        notes.append("PyTorch is not installed: training is unavailable until it is.")
        return gpus, False
    if torch.cuda.is_available():
        by_index = {gpu.index: gpu for gpu in gpus}
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            gpu = by_index.get(index)
            if gpu is None:
                gpu = GpuInfo(
                    index=index, name=props.name, total_memory_bytes=int(props.total_memory)
                )
                by_index[index] = gpu
            gpu.compute_capability = (props.major, props.minor)
        gpus = [by_index[i] for i in sorted(by_index)]
    elif gpus:
        notes.append(
            "NVML sees an NVIDIA GPU but this PyTorch build cannot use it (a CPU-only build?). "
            "Install a CUDA build of PyTorch to train on the GPU."
        )
    mps_backend = getattr(torch.backends, "mps", None)
    mps = bool(mps_backend and mps_backend.is_available())
    return gpus, mps


def detect_hardware(use_torch: bool = False) -> HardwareInfo:
    """Detect GPUs, MPS, CPU cores and RAM. `use_torch` also asks torch (slower to import)."""
    notes: list[str] = []
    gpus = _nvml_gpus(notes)
    if use_torch:
        gpus, mps = _torch_devices(gpus, notes)
    else:
        mps = sys.platform == "darwin" and platform.machine() == "arm64"
    return HardwareInfo(
        gpus=gpus,
        mps=mps,
        cpu_cores=os.cpu_count() or 1,
        ram_bytes=_ram_bytes(),
        platform=f"{platform.system()} {platform.machine()}",
        notes=notes,
    )
