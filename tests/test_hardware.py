"""Hardware detection on this CPU machine, and with NVML and CUDA mocked at the boundary."""

import sys
import types

from core.hardware import detect_hardware
from core.hardware.detect import GIB


def test_this_machine_without_gpu_says_so_plainly(monkeypatch):
    fake_nvml = types.ModuleType("pynvml")

    def no_driver():
        raise RuntimeError("NVML Shared Library Not Found")

    fake_nvml.nvmlInit = no_driver
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml)
    info = detect_hardware(use_torch=True)
    assert info.gpus == []
    assert info.best_device in ("cpu", "mps")
    assert info.cpu_cores >= 1 and info.ram_bytes > 0
    assert "No GPU found" in info.summary()
    assert info.as_dict()["best_device"] == info.best_device


def _fake_nvml(names_and_memory):
    nvml = types.ModuleType("pynvml")
    nvml.nvmlInit = lambda: None
    nvml.nvmlShutdown = lambda: None
    nvml.nvmlSystemGetDriverVersion = lambda: b"560.35.03"
    nvml.nvmlDeviceGetCount = lambda: len(names_and_memory)
    nvml.nvmlDeviceGetHandleByIndex = lambda index: index
    nvml.nvmlDeviceGetName = lambda handle: names_and_memory[handle][0]
    nvml.nvmlDeviceGetMemoryInfo = lambda handle: types.SimpleNamespace(
        total=names_and_memory[handle][1], free=names_and_memory[handle][1] - GIB
    )
    nvml.nvmlDeviceGetCudaComputeCapability = lambda handle: names_and_memory[handle][2]
    return nvml


def test_mocked_nvidia_gpu_is_reported_with_memory_capability_and_bf16(monkeypatch):
    monkeypatch.setitem(
        sys.modules,
        "pynvml",
        _fake_nvml([("NVIDIA GeForce RTX 4090", 24 * GIB, (8, 9)), ("Tesla T4", 16 * GIB, (7, 5))]),
    )
    info = detect_hardware(use_torch=False)
    assert [g.name for g in info.gpus] == ["NVIDIA GeForce RTX 4090", "Tesla T4"]
    first, second = info.gpus
    assert round(first.total_gib) == 24 and first.free_memory_bytes == 23 * GIB
    assert first.supports_bf16 and not second.supports_bf16
    assert first.driver == "560.35.03"
    assert info.best_device == "cuda"
    assert info.summary() == "NVIDIA GeForce RTX 4090, 24 GiB (+1 more)"


def test_cuda_through_torch_fills_in_capability(monkeypatch):
    import torch

    monkeypatch.setitem(
        sys.modules, "pynvml", _fake_nvml([("NVIDIA A100-SXM4-80GB", 80 * GIB, None)])
    )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(
        torch.cuda,
        "get_device_properties",
        lambda i: types.SimpleNamespace(
            name="NVIDIA A100-SXM4-80GB", total_memory=80 * GIB, major=8, minor=0
        ),
    )
    info = detect_hardware(use_torch=True)
    assert info.gpus[0].compute_capability == (8, 0)
    assert info.gpus[0].supports_bf16
    assert info.best_device == "cuda"


def test_nvml_gpu_with_cpu_only_torch_explains_what_to_install(monkeypatch):
    import torch

    monkeypatch.setitem(sys.modules, "pynvml", _fake_nvml([("NVIDIA L4", 24 * GIB, (8, 9))]))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    info = detect_hardware(use_torch=True)
    assert any("CUDA build of PyTorch" in note for note in info.notes)
