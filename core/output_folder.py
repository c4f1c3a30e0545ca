"""Output folders and files we may replace: only our own, and only when the user asked.

Every folder FineTune Studio writes as a whole (an export, a save_to_disk dataset) gets a
marker file. A folder without it holds someone's files, so even `--overwrite` never
replaces it: overwriting is for redoing our own output, not for clearing a path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.atomic_file import write_text_atomic

MARKER = ".finetune-studio-output"
PROJECT_DB = "project.sqlite"  # core.project.store.DB_NAME, kept here to stay import-light
# The only part of a project folder an output may go in (the export dialog's default).
PROJECT_OUTPUT_SUBFOLDER = "exports"


class OutputPathError(ValueError):
    """The output path cannot be used without losing something; says what to do instead."""


def write_marker(folder: str | os.PathLike, kind: str) -> None:
    """Mark `folder` as our output (written before the folder gets its final name)."""
    write_text_atomic(
        Path(folder) / MARKER,
        json.dumps({"written_by": "FineTune Studio", "kind": kind}, sort_keys=True) + "\n",
    )


def is_our_output(folder: str | os.PathLike) -> bool:
    return (Path(folder) / MARKER).is_file()


def _refuse_links(path: Path) -> None:
    if path.is_symlink():
        if not path.exists():
            raise OutputPathError(
                f"{path} is a broken link or a link loop; give a plain path for the output."
            )
        raise OutputPathError(
            f"{path} is a link to {path.resolve()}; give that folder itself, or a new path."
        )


def prepare_output_folder(path: str | os.PathLike, overwrite: bool) -> Path:
    """Check that a whole folder may be written at `path`; return it, absolute.

    Refused: a file or link there; a non-empty folder unless it is our output and
    `overwrite` is set. An empty folder or a new path is fine.
    """
    path = Path(path).expanduser().absolute()
    _refuse_links(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{path} is a file; choose a folder (a new path) for the output.")
    if not path.is_dir():
        return path
    try:
        empty = not any(path.iterdir())
    except OSError as error:
        raise OutputPathError(
            f"{path} cannot be read ({error.strerror}); choose another folder."
        ) from None
    if empty:
        return path
    if not is_our_output(path):
        raise OutputPathError(
            f"{path} already exists and is not empty, and FineTune Studio did not write it "
            "(no marker file); it is never replaced, even with overwrite. Choose a new folder."
        )
    if not overwrite:
        raise OutputPathError(
            f"{path} already exists and is not empty (an earlier output); choose a new folder, "
            "or replace it (--overwrite on the command line)."
        )
    return path


def prepare_output_file(path: str | os.PathLike, overwrite: bool) -> Path:
    """Check that a file may be written at `path`: refuse a folder, a link loop, or an
    existing file unless `overwrite` (the file is then replaced atomically)."""
    path = Path(path).expanduser().absolute()
    if path.is_symlink() and not path.exists():
        raise OutputPathError(
            f"{path} is a broken link or a link loop; give a plain path for the output."
        )
    if path.is_dir():
        raise OutputPathError(f"{path} is a folder; give a file name for the output.")
    if path.exists() and not overwrite:
        raise OutputPathError(
            f"{path} already exists; choose a new file name, or replace it (--overwrite)."
        )
    if path.parent.exists() and not path.parent.is_dir():
        raise OutputPathError(f"{path.parent} is a file, not a folder; choose another path.")
    return path


def _project_root_at_or_above(path: Path) -> Path | None:
    for folder in (path, *path.parents):
        if (folder / PROJECT_DB).is_file():
            return folder
    return None


def refuse_project_data(
    path: str | os.PathLike, project: Path | None = None, protected: list[Path] = ()
) -> None:
    """Refuse an output that is, contains or lies inside a project's own data, or any of
    `protected` (e.g. the run being exported): replacing it would delete them.

    Only a project's exports/ subfolder may hold outputs. A folder that merely contains
    a project (`--out ..`) is refused by prepare_output_folder: it is not our output.
    """
    path = Path(path).expanduser().resolve()
    if project is not None and path in Path(project).resolve().parents:
        raise OutputPathError(
            f"{path} holds the project {Path(project).resolve().name}; replacing it would "
            "delete the project. Choose a new folder."
        )
    root = _project_root_at_or_above(path)
    if root is not None:
        relative = path.relative_to(root)
        if not relative.parts or relative.parts[0] != PROJECT_OUTPUT_SUBFOLDER:
            if not relative.parts:
                where = "a project folder"
            elif len(relative.parts) == 1 and not path.is_dir():
                where = f"the project's own {relative.parts[0]}"
            else:
                where = f"in a project's {relative.parts[0]}/"
            raise OutputPathError(
                f"{path} is {where}; writing there could replace the project's own files. "
                f"Choose a new folder, e.g. in {root / PROJECT_OUTPUT_SUBFOLDER}."
            )
    for guarded in protected:
        guarded = Path(guarded).expanduser().resolve()
        if path == guarded or guarded in path.parents or path in guarded.parents:
            raise OutputPathError(
                f"{path} {'is' if path == guarded else 'overlaps'} the run folder {guarded.name}; "
                "writing there would replace it. Choose a new folder."
            )
