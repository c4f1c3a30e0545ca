"""The merged export: one plain transformers model (safetensors, tokenizer, chat template).

A LoRA adapter is folded into the base weights (W + B·A·alpha/r) with PEFT's
merge_and_unload. For QLoRA and 8-bit LoRA runs the base is loaded again *unquantized*,
in the dtype it is stored in (usually bfloat16), and the adapter merged into those
weights: merging into 4-bit weights would round the adapter's small update away and
ship a model that is worse than the one trained. The folder it writes names no PEFT
class, so a machine without peft loads it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.atomic_file import write_text_atomic
from core.export.source import ExportSource, ExportSourceError
from core.export.tokenizer_files import copy_tokenizer
from core.models.load_lock import model_loading
from core.models.remote_code import trust_remote_code_for

Progress = Callable[[float, str], None]
# Files of a run's final model that are training records, not part of the model.
NOT_MODEL_FILES = {"training_args.bin", "studio_model.json", "README.md", "optimizer.pt"}


@dataclass(frozen=True)
class MergeInfo:
    dtype: str  # the weights' dtype as saved, e.g. "bfloat16"
    description: str  # one sentence for the result and the card


def stored_dtype(model_folder: Path) -> str:
    """The dtype a model folder's config says its weights are stored in (float32 if unsaid)."""
    try:
        config = json.loads((model_folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "float32"
    value = config.get("dtype") or config.get("torch_dtype") or "float32"
    return str(value).replace("torch.", "")


def serving_compatible_config(folder: Path) -> None:
    """config.json as inference servers read it: the KV cache on (training switched it
    off), and the transformers 4 names of the dtype and RoPE base next to the 5 ones (a
    server on transformers 4 would otherwise fall back to float32 and rope_theta 10000)."""
    path = folder / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["use_cache"] = True
    if "dtype" in config and "torch_dtype" not in config:
        config["torch_dtype"] = config["dtype"]
    rope = config.get("rope_parameters")
    if isinstance(rope, dict) and "rope_theta" in rope and "rope_theta" not in config:
        config["rope_theta"] = rope["rope_theta"]
    write_text_atomic(path, json.dumps(config, indent=2, sort_keys=True) + "\n")


def _copy_full_model(source: ExportSource, folder: Path) -> MergeInfo:
    for item in source.model_dir.iterdir():
        if item.is_file() and item.name not in NOT_MODEL_FILES:
            shutil.copy2(item, folder / item.name)
    copy_tokenizer(source.model_dir, folder)
    dtype = stored_dtype(source.model_dir)
    return MergeInfo(dtype, f"The fully fine-tuned weights ({dtype}), as trained.")


def _base_quantization(base: Path) -> dict | None:
    try:
        config = json.loads((base / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    quant = config.get("quantization_config")
    return quant if isinstance(quant, dict) else None


def write_merged(
    source: ExportSource,
    folder: Path,
    progress: Progress | None = None,
    span: tuple[float, float] = (0.0, 1.0),
) -> MergeInfo:
    """Write the merged (or full) model with its tokenizer into `folder`."""
    report = progress or (lambda fraction, message: None)
    start, end = span
    if not source.is_adapter:
        report(start, "copying the fully fine-tuned model")
        info = _copy_full_model(source, folder)
        serving_compatible_config(folder)
        return info
    if _base_quantization(source.base_path):
        raise ExportSourceError(
            f"The base model at {source.base_path} is itself stored quantized, so there are no "
            "16-bit weights to merge the adapter into. Export the adapter instead, or merge "
            "into the original 16-bit release of the base model."
        )
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # peft is heavy: loaded when a model is
    from peft import PeftModel

    # transformers is heavy: loaded when a model is
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = stored_dtype(source.base_path)
    report(start, f"loading the base model {source.base_name} unquantized ({dtype})")

    with model_loading():
        model = AutoModelForCausalLM.from_pretrained(
            str(source.base_path),
            dtype=getattr(torch, dtype, torch.float32),
            trust_remote_code=trust_remote_code_for(source.base_path),
        )
    tokenizer = AutoTokenizer.from_pretrained(
        str(source.model_dir), trust_remote_code=trust_remote_code_for(source.model_dir)
    )
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer))
    report(start + (end - start) * 0.4, "merging the adapter into the base weights")
    with model_loading():
        model = PeftModel.from_pretrained(model, str(source.model_dir))
    # On the CPU PEFT computes each B·A update in float32 before adding it to 16-bit weights.
    merged = model.merge_and_unload()
    merged.config.use_cache = True
    report(start + (end - start) * 0.6, "saving the merged model (safetensors)")
    merged.save_pretrained(str(folder))
    del model, merged
    copy_tokenizer(source.model_dir, folder)
    serving_compatible_config(folder)
    if source.quantized_training:
        description = (
            f"The LoRA adapter, trained on the {source.quantized_training} quantized base, "
            f"merged into the base model's original unquantized {dtype} weights (reloaded "
            "for the merge), not into the quantized ones."
        )
    else:
        description = f"The LoRA adapter merged into the base model's {dtype} weights."
    report(end, "merged model saved")
    return MergeInfo(dtype, description)
