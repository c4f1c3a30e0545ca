"""Where a new project goes: a name and a location become a new folder beside the others.

The New Project dialog and any other caller check the pair here first, so a bad name or
a folder that already holds files is refused with one sentence that says what to do,
before anything is created.
"""

from __future__ import annotations

from pathlib import Path

from core.project.store import DB_NAME

# Characters no file system of ours accepts in a folder name (Windows is the strictest).
_FORBIDDEN = set('/\\:*?"<>|')


class NewProjectError(ValueError):
    """A name or location that cannot become a new project folder, with what to do."""


def new_project_folder(location: str | Path, name: str) -> Path:
    """The folder `location/name` a new project called `name` would get, or NewProjectError."""
    name = name.strip()
    if not name:
        raise NewProjectError("Type a name for the project.")
    bad = sorted(set(name) & _FORBIDDEN)
    if bad or name in (".", "..") or any(ord(c) < 32 for c in name):
        shown = " ".join(bad) if bad else "that name"
        raise NewProjectError(f"A project name cannot use {shown}; choose another name.")
    if not str(location).strip():
        raise NewProjectError("Choose a location for the project folder.")
    location = Path(location).expanduser()
    if not location.is_dir():
        raise NewProjectError(f"The location {location} does not exist; choose another folder.")
    folder = (location / name).resolve()
    if (folder / DB_NAME).exists():
        raise NewProjectError(f"{folder} already holds a project; open it with File > Open.")
    if folder.exists() and not folder.is_dir():
        raise NewProjectError(f"{folder} is a file; choose another name.")
    if folder.is_dir() and any(folder.iterdir()):
        raise NewProjectError(f"{folder} already exists and is not empty; choose another name.")
    return folder
