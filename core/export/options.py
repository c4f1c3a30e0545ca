"""What to export and where: the settings of one export, with help text for the GUI."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

FORMATS = ("adapter", "merged", "gguf")
FORMAT_TITLES = {
    "adapter": "LoRA adapter (PEFT, vLLM)",
    "merged": "Merged model (transformers, safetensors)",
    "gguf": "GGUF (llama.cpp, Ollama)",
}
GGUF_TYPES = ("q8_0", "f16", "f32")
GGUF_CONVERTERS = ("auto", "llama.cpp", "builtin")


class ExportOptionsError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class ExportOptions:
    format: str = field(
        default="merged",
        metadata={
            "help": "adapter: the small LoRA folder that PEFT and vLLM load on top of the base "
            "model. merged: one standalone model any transformers install loads (no peft). "
            "gguf: one file for llama.cpp and Ollama.",
            "choices": FORMATS,
        },
    )
    out_dir: str = field(
        default="",
        metadata={
            "help": "The folder to create: outside the project, or inside the project's "
            "exports/ folder (the app's default); never elsewhere in the project or in the "
            "run. It appears only when the export is complete; an interrupted export leaves "
            "nothing under this name."
        },
    )
    overwrite: bool = field(
        default=False,
        metadata={
            "help": "Replace the folder if an earlier export wrote it (the old one stays until "
            "the new one is complete). A folder FineTune Studio did not write, the project "
            "and the run itself are never replaced."
        },
    )
    parity_eval_set: str = field(
        default="",
        metadata={
            "help": "Run this eval set (stored id or name, or a JSONL file) on the exported "
            "model and compare every answer with the in-app answers, greedy with the same "
            "settings. Empty: no check."
        },
    )
    gguf_type: str = field(
        default="q8_0",
        metadata={
            "help": "GGUF weight type: q8_0 (8-bit, half the size of f16, near lossless), f16, "
            "or f32. Quantize further with llama.cpp's llama-quantize (e.g. Q4_K_M).",
            "choices": GGUF_TYPES,
        },
    )
    gguf_converter: str = field(
        default="auto",
        metadata={
            "help": "auto: llama.cpp's convert_hf_to_gguf.py when found, else the built-in "
            "writer (Llama-architecture models). llama.cpp: only llama.cpp's converter. "
            "builtin: only the built-in writer.",
            "choices": GGUF_CONVERTERS,
        },
    )
    llama_cpp: str = field(
        default="",
        metadata={
            "help": "A llama.cpp checkout (or its convert_hf_to_gguf.py). Empty: look at "
            "$FINETUNE_STUDIO_LLAMA_CPP, then on PATH."
        },
    )

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ExportOptionsError("format", f"choose one of {', '.join(FORMATS)}")
        if not str(self.out_dir).strip():
            raise ExportOptionsError("out_dir", "choose the folder to export into")
        if self.gguf_type not in GGUF_TYPES:
            raise ExportOptionsError("gguf_type", f"choose one of {', '.join(GGUF_TYPES)}")
        if self.gguf_converter not in GGUF_CONVERTERS:
            raise ExportOptionsError(
                "gguf_converter", f"choose one of {', '.join(GGUF_CONVERTERS)}"
            )

    @property
    def out_path(self) -> Path:
        return Path(self.out_dir).expanduser().absolute()

    def replace(self, **changes) -> ExportOptions:
        return dataclasses.replace(self, **changes)


def option_help(name: str) -> str:
    for item in dataclasses.fields(ExportOptions):
        if item.name == name:
            return item.metadata.get("help", "")
    raise KeyError(name)
