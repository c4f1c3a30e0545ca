"""What the machine can train on: CUDA GPUs, Apple MPS, or the CPU."""

from core.hardware.detect import GpuInfo, HardwareInfo, detect_hardware

__all__ = ["GpuInfo", "HardwareInfo", "detect_hardware"]
