"""Opening a project folder as the GUI does (start-up, File > Open, Open Recent): why one cannot
be opened, in words that say what to do, and never a change to a project that is damaged."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from core.project import (
    NewerSchemaError,
    NotAProjectError,
    Project,
    ProjectDatabaseError,
    open_project,
)
from core.project.store import DB_NAME


class CannotOpenProject(Exception):
    """The folder could not be opened as a project; the message names it and what to do."""

    def __init__(self, folder: Path, reason: str) -> None:
        super().__init__(f"{folder}: {reason}")
        self.folder = folder
        self.reason = reason


def open_project_folder(folder: str | Path) -> Project:
    """Open a project, or raise CannotOpenProject saying what is wrong; the folder is left as is."""
    folder = Path(folder).expanduser()
    db_path = folder / DB_NAME
    try:
        if db_path.is_file() and not (os.access(folder, os.W_OK) and os.access(db_path, os.W_OK)):
            # SQLite may still open it (read-only WAL), but the first save would fail.
            raise CannotOpenProject(folder, _read_only(str(db_path)))
        project = open_project(folder)
        project.name  # noqa: B018 - a first read, so a damaged database shows up here
        return project
    except (NotAProjectError, NewerSchemaError) as error:
        raise CannotOpenProject(folder, str(error)) from error
    except ProjectDatabaseError as error:
        # core refused a damaged database untouched; its message names both ways out
        # (a backup, or `finetune-studio project repair`).
        raise CannotOpenProject(folder, str(error)) from error
    except sqlite3.Error as error:
        raise CannotOpenProject(folder, _database_problem(folder, db_path, error)) from error
    except OSError as error:
        raise CannotOpenProject(
            folder,
            f"it cannot be read ({error.strerror or error}). Check the folder exists "
            "and that you may read it.",
        ) from error


def _database_problem(folder: Path, db_path: Path, error: sqlite3.Error) -> str:
    text = str(error)
    read_only = "readonly" in text or "unable to open" in text
    read_only = read_only or not os.access(folder, os.W_OK) or not os.access(db_path, os.W_OK)
    if read_only:
        return _read_only(text)
    return (
        f"its {DB_NAME} is damaged or is not a FineTune Studio database ({text}). Restore "
        "that file from a backup; FineTune Studio left the project as it is."
    )


def _read_only(detail: str) -> str:
    return (
        f"it is read-only here ({detail}), and FineTune Studio writes to a project as you "
        "work. Give yourself write permission on the folder, or copy it to a folder you "
        "can write to and open the copy."
    )
