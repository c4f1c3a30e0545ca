"""What the model picker shows about a model folder, read from its local files only:
size on disk, architecture (config.json), license (README front matter or config) and
whether the weights are safetensors (pickle .bin weights can run code when loaded).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth")


@dataclass(frozen=True)
class ModelFacts:
    size_bytes: int
    architecture: str  # e.g. "LlamaForCausalLM", or "" when config.json does not say
    model_type: str
    license: str  # e.g. "apache-2.0", or "" when unknown
    safetensors: bool
    pickle_weights: bool

    @property
    def weights_text(self) -> str:
        if self.safetensors:
            return "safetensors"
        if self.pickle_weights:
            return "pickle .bin (can run code)"
        return "no weights"


def folder_size(folder: Path) -> int:
    """Bytes of the folder's files; symlinks into the HF cache's blobs are followed."""
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except OSError:
            continue  # a dangling cache symlink
    return total


def read_license(folder: Path, config: dict) -> str:
    """The `license:` of the README's YAML front matter, else config.json's, else ''."""
    readme = folder / "README.md"
    if readme.is_file():
        try:
            text = readme.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        if text.startswith("---"):
            end = text.find("\n---", 3)
            if end > 0:
                try:
                    front = yaml.safe_load(text[3:end]) or {}
                except yaml.YAMLError:
                    front = {}
                if isinstance(front, dict) and front.get("license"):
                    value = front["license"]
                    if value == "other" and front.get("license_name"):
                        value = front["license_name"]
                    return ", ".join(value) if isinstance(value, list) else str(value)
    return str(config.get("license") or "")


def model_facts(folder: str | Path) -> ModelFacts:
    folder = Path(folder)
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    if not isinstance(config, dict):
        config = {}
    architectures = config.get("architectures") or []
    return ModelFacts(
        size_bytes=folder_size(folder),
        architecture=str(architectures[0]) if architectures else "",
        model_type=str(config.get("model_type") or ""),
        license=read_license(folder, config),
        safetensors=any(folder.glob("*.safetensors")),
        pickle_weights=any(folder.glob("*.bin")),
    )


def human_size(size_bytes: int) -> str:
    value = float(size_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
