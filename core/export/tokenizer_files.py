"""The tokenizer and chat template an export carries, readable by old and new loaders.

transformers 5 saves the tokenizer class as "TokenizersBackend" and the chat template
only in chat_template.jinja; transformers 4 (which most serving stacks still run) knows
neither. The export names the class PreTrainedTokenizerFast (an alias in 5, the class
itself in 4) and puts the template in tokenizer_config.json as well, so both read it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from core.atomic_file import write_text_atomic

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "chat_template.jinja",
    "chat_template.json",
)
TEMPLATE_FILE = "chat_template.jinja"


def read_chat_template(folder: Path) -> str | None:
    """The chat template a folder's tokenizer would use, or None."""
    jinja = folder / TEMPLATE_FILE
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    template = config.get("chat_template")
    return template if isinstance(template, str) else None


def copy_tokenizer(source: Path, folder: Path) -> list[str]:
    """Copy the tokenizer files of `source` into `folder`; the names copied."""
    copied = []
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, folder / name)
            copied.append(name)
    if "tokenizer_config.json" not in copied:
        return copied
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    if config.get("tokenizer_class") == "TokenizersBackend":
        config["tokenizer_class"] = "PreTrainedTokenizerFast"
    template = read_chat_template(source)
    if template and not isinstance(config.get("chat_template"), str):
        config["chat_template"] = template
    for key in ("is_local", "local_files_only"):  # facts about this machine, not the model
        config.pop(key, None)
    write_text_atomic(path, json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return copied
