"""Reading a small JSON object a run or a model folder keeps (run.json, preflight.json,
config.json, tokenizer.json): {} when the file is missing, unreadable, not JSON, nested
beyond reason or not an object, so a damaged file reads as "nothing recorded"."""

from __future__ import annotations

import json
from pathlib import Path


def read_json_object(path: Path) -> dict:
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}
