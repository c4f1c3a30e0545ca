"""Finding a GGUF converter and running it: llama.cpp's when the user has it, else ours.

Order: the configured llama.cpp (option or $FINETUNE_STUDIO_LLAMA_CPP), then
convert_hf_to_gguf.py on PATH, then the built-in writer for Llama models
(core.export.gguf_llama). When none applies, `missing_converter_message` says exactly
what to install and the command to run afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.export.gguf_llama import GgufCancelled, GgufFileInfo, builtin_support_problem

LLAMA_CPP_ENV = "FINETUNE_STUDIO_LLAMA_CPP"
SCRIPT_NAMES = ("convert_hf_to_gguf.py", "convert-hf-to-gguf.py")
LLAMA_CPP_URL = "https://github.com/ggml-org/llama.cpp"

Progress = Callable[[float, str], None]
Cancelled = Callable[[], bool]


class GgufConverterMissing(RuntimeError):
    """No converter can write this model as GGUF here; the message says what to install."""


class GgufConversionFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class GgufConverter:
    kind: str  # "llama.cpp" or "builtin"
    script: Path | None
    description: str


def find_llama_cpp_script(configured: str = "") -> Path | None:
    """llama.cpp's convert_hf_to_gguf.py: configured path, $FINETUNE_STUDIO_LLAMA_CPP, PATH."""
    for candidate in (configured, os.environ.get(LLAMA_CPP_ENV, "")):
        if not candidate:
            continue
        path = Path(candidate).expanduser()
        if path.is_file():
            return path
        for name in SCRIPT_NAMES:
            if (path / name).is_file():
                return path / name
    for name in SCRIPT_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def missing_converter_message(model_dir_hint: str, reasons: list[str]) -> str:
    why = "; ".join(reasons)
    return (
        "No GGUF converter for this model on this machine"
        + (f" ({why})" if why else "")
        + ". Install llama.cpp's converter:\n"
        f"  git clone --depth 1 {LLAMA_CPP_URL}\n"
        f"  {Path(sys.executable).name} -m pip install -r "
        "llama.cpp/requirements/requirements-convert_hf_to_gguf.txt\n"
        f"then point FineTune Studio at it (set {LLAMA_CPP_ENV}=/path/to/llama.cpp, or "
        "--llama-cpp /path/to/llama.cpp, or put convert_hf_to_gguf.py on PATH) and export "
        "again. Or convert the merged model yourself:\n"
        f"  python llama.cpp/convert_hf_to_gguf.py {model_dir_hint} --outtype q8_0"
    )


def choose_converter(model_dir: Path, preference: str, configured: str = "") -> GgufConverter:
    """The converter to use for the merged model in `model_dir`, or GgufConverterMissing."""
    reasons = []
    if preference in ("auto", "llama.cpp"):
        script = find_llama_cpp_script(configured)
        if script is not None:
            return GgufConverter("llama.cpp", script, f"llama.cpp's {script}")
        reasons.append("llama.cpp's convert_hf_to_gguf.py was not found")
    if preference in ("auto", "builtin"):
        problem = builtin_support_problem(model_dir)
        if problem is None:
            return GgufConverter("builtin", None, "the built-in writer (gguf package)")
        reasons.append(problem)
    raise GgufConverterMissing(missing_converter_message("MERGED_MODEL_DIR", reasons))


def run_llama_cpp(
    script: Path,
    model_dir: Path,
    out_file: Path,
    outtype: str,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> GgufFileInfo:
    """Run convert_hf_to_gguf.py in a subprocess; a cancel terminates it."""
    report = progress or (lambda fraction, message: None)
    command = [str(script), str(model_dir), "--outfile", str(out_file), "--outtype", outtype]
    if script.suffix == ".py":
        command.insert(0, sys.executable)
    log_path = out_file.with_suffix(".convert.log")
    report(0.05, f"running {script.name}")
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        while process.poll() is None:
            if cancelled and cancelled():
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                raise GgufCancelled("GGUF conversion was cancelled.")
            time.sleep(0.2)
    tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
    log_path.unlink(missing_ok=True)
    if process.returncode != 0 or not out_file.is_file():
        raise GgufConversionFailed(
            f"{script.name} failed (exit code {process.returncode}):\n{tail.strip()}"
        )
    report(1.0, "GGUF written")
    return GgufFileInfo(out_file, outtype, f"llama.cpp ({script})", 0, ())


def gguf_route(source, preference: str = "auto", configured: str = "") -> tuple[bool, str]:
    """Before exporting: (a GGUF file can be written, which converter or what is missing)."""
    if preference in ("auto", "llama.cpp"):
        script = find_llama_cpp_script(configured)
        if script is not None:
            return True, f"llama.cpp's converter: {script}"
    reasons = [] if preference == "builtin" else ["llama.cpp's convert_hf_to_gguf.py not found"]
    if preference in ("auto", "builtin"):
        config_dir = source.base_path if source.is_adapter else source.model_dir
        problem = builtin_support_problem(config_dir, source.model_dir)
        if problem is None:
            return True, "the built-in GGUF writer (Llama models; llama.cpp not found)"
        reasons.append(problem)
    return False, missing_converter_message("THE_EXPORT_FOLDER", reasons)
