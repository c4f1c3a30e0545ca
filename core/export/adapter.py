"""The LoRA adapter export: the PEFT folder that PeftModel.from_pretrained and vLLM load.

vLLM takes adapter_config.json and adapter_model.safetensors holding only lora_A/lora_B
weights of the target modules; it rejects DoRA, modules_to_save and any other tensor.
`vllm_adapter_problems` says which of those a folder breaks, so the user hears it before
a server refuses the adapter.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from core.atomic_file import write_text_atomic
from core.export.source import ExportSource, ExportSourceError
from core.export.tokenizer_files import copy_tokenizer

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
_LORA_TENSOR = re.compile(r"^base_model\.model\.(.+)\.lora_(A|B|embedding_A|embedding_B)\.weight$")


def write_adapter(source: ExportSource, folder: Path) -> list[str]:
    """Write the adapter and tokenizer into `folder`; the files written."""
    if not source.is_adapter:
        raise ExportSourceError(
            f"{source.run_id} is a full fine-tune: it has no adapter. Export it as a merged "
            "model (the full weights) instead."
        )
    weights = source.model_dir / ADAPTER_WEIGHTS
    if not weights.is_file():
        raise ExportSourceError(
            f"{source.model_dir} has no {ADAPTER_WEIGHTS}; the run's adapter was not saved "
            "completely. Train the run again."
        )
    shutil.copy2(weights, folder / ADAPTER_WEIGHTS)
    config = json.loads((source.model_dir / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    # Unset options are left out: each is its default when absent, and an older PEFT on a
    # serving machine rejects or warns about option names it does not know.
    config = {key: value for key, value in config.items() if value is not None}
    config["inference_mode"] = True
    config["base_model_name_or_path"] = str(source.base_path)
    write_text_atomic(folder / ADAPTER_CONFIG, json.dumps(config, indent=2, sort_keys=True) + "\n")
    return [ADAPTER_WEIGHTS, ADAPTER_CONFIG, *copy_tokenizer(source.model_dir, folder)]


def vllm_adapter_problems(folder: Path) -> list[str]:
    """Why vLLM would refuse this adapter folder (empty: it would load it)."""
    # safetensors pulls in torch: loaded when weights are read
    from safetensors import safe_open

    problems = []
    try:
        config = json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return [f"{ADAPTER_CONFIG} is missing or not JSON ({error})"]
    if config.get("peft_type") != "LORA":
        problems.append(f"peft_type is {config.get('peft_type')!r}; vLLM serves LORA only")
    if config.get("use_dora"):
        problems.append("DoRA adapters are not supported by vLLM")
    if config.get("modules_to_save"):
        problems.append(
            f"modules_to_save ({config['modules_to_save']}) adds full layers vLLM cannot load"
        )
    for key in ("r", "lora_alpha", "target_modules"):
        if not config.get(key):
            problems.append(f"{ADAPTER_CONFIG} lacks {key}")
    weights = folder / ADAPTER_WEIGHTS
    if not weights.is_file():
        return [*problems, f"{ADAPTER_WEIGHTS} is missing"]
    with safe_open(str(weights), "pt") as handle:
        names = list(handle.keys())
    extra = [name for name in names if not _LORA_TENSOR.match(name) or ".default." in name]
    if extra:
        shown = ", ".join(extra[:3]) + (f" and {len(extra) - 3} more" if len(extra) > 3 else "")
        problems.append(f"tensors other than LoRA A/B weights: {shown}")
    if not names:
        problems.append(f"{ADAPTER_WEIGHTS} holds no tensors")
    return problems
