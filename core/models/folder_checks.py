"""Checks of a model folder's files that name the file, before a library reads them.

transformers and safetensors report a truncated weights file or an unknown `model_type`
in their own words ("Error while deserializing header: ...", "does not recognize this
architecture"), without the path. These checks read only the small parts that tell
(a safetensors header, config.json's model_type) and say which file and what to do.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

# A safetensors header is JSON of at most 100 MB (the format's own limit).
MAX_HEADER_BYTES = 100 * 1024 * 1024


def safetensors_problem(path: Path) -> str | None:
    """Why `path` is not a complete safetensors file (truncated, damaged header); None when
    its header and size agree. Reads the header only, never the tensors."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                return f"{path} is truncated ({size} bytes, not even a header)"
            (header_len,) = struct.unpack("<Q", head)
            if header_len > MAX_HEADER_BYTES or 8 + header_len > size:
                return f"{path} is truncated or damaged (its header claims {header_len:,} bytes)"
            header = json.loads(handle.read(header_len).decode("utf-8"))
    except OSError as error:
        return f"{path} cannot be read ({error.strerror or error})"
    except (ValueError, UnicodeDecodeError):
        return f"{path} is damaged (its header is not valid JSON)"
    if not isinstance(header, dict):
        return f"{path} is damaged (its header is not a table of tensors)"
    ends = [
        entry["data_offsets"][1]
        for name, entry in header.items()
        if name != "__metadata__"
        and isinstance(entry, dict)
        and isinstance(entry.get("data_offsets"), list)
        and len(entry["data_offsets"]) == 2
        and isinstance(entry["data_offsets"][1], int)
    ]
    needed = 8 + header_len + max(ends, default=0)
    if needed > size:
        return f"{path} is truncated: {size:,} bytes, but its tensors need {needed:,}"
    return None


def weights_problem(folder: Path) -> str | None:
    """The first safetensors file of `folder` that is truncated or damaged, with what to do."""
    for path in sorted(folder.glob("*.safetensors")):
        problem = safetensors_problem(path)
        if problem:
            return (
                f"{problem}. Download or copy the model again (an interrupted download or "
                "copy leaves files like this)."
            )
    return None


def unknown_model_type(folder: Path, model_type: str | None) -> str | None:
    """config.json's model_type when this transformers does not know it (a model folder
    without custom code then cannot load); None when it is known."""
    if not model_type:
        return (
            f"{folder / 'config.json'} has no model_type; it is not a Hugging Face "
            "model's config (or it needs custom code that is not in the folder)."
        )
    # transformers is heavy (seconds to import): only the loading paths ask this.
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    if model_type in CONFIG_MAPPING_NAMES:
        return None
    # transformers is heavy: loaded when a model is
    import transformers

    return (
        f"{folder / 'config.json'}: model_type {model_type!r} is not one that transformers "
        f"{transformers.__version__} knows. Check the value, or update transformers if the "
        "architecture is newer."
    )
