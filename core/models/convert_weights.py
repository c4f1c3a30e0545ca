"""Pickle `.bin` weights to safetensors, into a new folder: `finetune-studio models convert`.

A pickle file can run code when it is loaded, so FineTune Studio refuses a folder that has
only `.bin` weights. This reads them with torch's restricted unpickler
(`weights_only=True`: tensors and plain values, no objects, so nothing in the file runs)
and writes the same tensors as safetensors into a new folder beside the original, with
the folder's other files (config, tokenizer) copied. The user's folder is never changed;
the new folder carries our output marker, so only it may be replaced (--overwrite).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

from core.output_folder import prepare_output_folder, write_marker
from core.output_lock import output_lock

CONVERTED_SUFFIX = "-safetensors"
PICKLE_INDEX = "pytorch_model.bin.index.json"
SAFETENSORS_INDEX = "model.safetensors.index.json"
KIND = "safetensors-conversion"


class ConvertError(ValueError):
    """The folder cannot be converted; says why and changes nothing."""


def default_output(folder: Path) -> Path:
    return folder.with_name(folder.name + CONVERTED_SUFFIX)


def convert_command(folder: str | os.PathLike) -> str:
    """The command that converts `folder`, as the refusals print it."""
    return f"finetune-studio models convert {Path(folder).expanduser().resolve()}"


def _pickle_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.bin") if p.is_file())


def _safetensors_name(pickle_name: str) -> str:
    # pytorch_model-00001-of-00002.bin -> model-00001-of-00002.safetensors
    stem = pickle_name[: -len(".bin")]
    stem = stem.replace("pytorch_model", "model", 1)
    return f"{stem}.safetensors"


def _load_restricted(path: Path) -> dict:
    # torch is heavy (seconds to import): loaded only to convert.
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConvertError(
            f"{path} holds more than tensors (or is damaged), so it was not loaded: {first}. "
            "Nothing in it was run; get safetensors weights for this model instead."
        ) from None
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise ConvertError(f"{path} is not a table of named tensors; it cannot be converted.")
    tensors = {name: value for name, value in state.items() if isinstance(value, torch.Tensor)}
    if not tensors:
        raise ConvertError(f"{path} holds no tensors; it cannot be converted.")
    # Tied weights share storage, which safetensors refuses: each gets its own copy.
    return {name: tensor.detach().contiguous().clone() for name, tensor in tensors.items()}


def convert_to_safetensors(
    folder: str | os.PathLike,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write `folder`'s pickle weights as safetensors into `out` (default: FOLDER-safetensors
    beside it); return `out`. The original folder is only read."""
    # safetensors pulls in torch: loaded when weights are read
    from safetensors.torch import save_file

    report = progress or (lambda message: None)
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise ConvertError(f"{folder} is not a folder; give the model folder to convert.")
    pickles = _pickle_files(folder)
    if not pickles:
        raise ConvertError(f"{folder} has no pickle .bin weights; there is nothing to convert.")
    target = Path(out).expanduser().absolute() if out else default_output(folder)
    if target.resolve() == folder or folder in target.resolve().parents:
        raise ConvertError(f"{target} is inside {folder}; choose a folder outside it.")
    with output_lock(target):
        prepare_output_folder(target, overwrite)
        staging = target.with_name(f".{target.name}.partial-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            weight_map = {}
            for path in pickles:
                name = _safetensors_name(path.name)
                report(f"converting {path.name} -> {name}")
                tensors = _load_restricted(path)
                save_file(tensors, str(staging / name), metadata={"format": "pt"})
                weight_map.update(dict.fromkeys(tensors, name))
            for item in sorted(folder.iterdir()):
                if (
                    item.suffix == ".bin"
                    or item.name in (PICKLE_INDEX,)
                    or item.name.startswith(".")
                ):
                    continue
                if item.is_file():
                    shutil.copy2(item, staging / item.name)
            if len(pickles) > 1:
                index = {"metadata": {}, "weight_map": dict(sorted(weight_map.items()))}
                (staging / SAFETENSORS_INDEX).write_text(json.dumps(index, indent=2) + "\n")
            write_marker(staging, KIND)
            prepare_output_folder(target, overwrite)  # again: it may have changed meanwhile
            if target.exists():
                old = target.with_name(f".{target.name}.replaced-{os.getpid()}")
                os.replace(target, old)
                os.replace(staging, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    report(f"wrote {target}")
    return target
