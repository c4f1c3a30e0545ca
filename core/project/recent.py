"""The recent-projects list, kept as JSON in the config folder."""

from __future__ import annotations

import json
from pathlib import Path

from core.app_dirs import config_dir
from core.atomic_file import write_text_atomic
from core.project.store import DB_NAME

MAX_RECENT = 10


def _recent_file() -> Path:
    return config_dir() / "recent_projects.json"


def recent_projects() -> list[Path]:
    """Recent project folders, newest first, skipping ones that no longer exist."""
    try:
        entries = json.loads(_recent_file().read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    folders = [Path(entry) for entry in entries if isinstance(entry, str)]
    return [folder for folder in folders if (folder / DB_NAME).is_file()]


def remember_project(folder: str | Path) -> None:
    folder = Path(folder).resolve()
    entries = [folder, *(p for p in recent_projects() if p != folder)][:MAX_RECENT]
    write_text_atomic(_recent_file(), json.dumps([str(p) for p in entries], indent=2))
