"""A damaged project.sqlite: recognised and refused untouched on opening, set aside on repair.

Repairing (core.runs.rebuild.repair_project, `finetune-studio project repair DIR`) renames
the damaged file aside with set_aside, never deleting it, and lists the runs again from
their folders.
"""

from __future__ import annotations

import datetime as _dt
import os
import sqlite3
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"


class ProjectDatabaseError(sqlite3.DatabaseError):
    """project.sqlite cannot be used and was not changed; says what to do. A DatabaseError,
    so code that already catches sqlite3's errors catches this one too. `damaged`: the
    file itself is bad (repair_project helps), not merely locked or read-only."""

    def __init__(self, message: str, damaged: bool = False) -> None:
        super().__init__(message)
        self.damaged = damaged


def database_problem(db_path: Path) -> str | None:
    """Why `db_path` is surely not a usable database (checked read-only, so a damaged file
    is not changed); None if it is sound. A damaged table page leaves the schema readable,
    so SQLite's quick_check (every page and record, not the indexes' contents) decides."""
    with open(db_path, "rb") as handle:
        head = handle.read(len(SQLITE_HEADER))
    if not head:
        return "it is empty (0 bytes)"
    if head != SQLITE_HEADER:
        return "it is not an SQLite database"
    # Read-only: opening it for writing (WAL mode) would already change a damaged file.
    try:
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return None  # cannot even open it read-only: the normal open says why
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        found = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
        if found != ["ok"]:
            lines = [line for text in found for line in str(text).splitlines()]
            lines = [line for line in lines if not line.startswith("***")]  # "in database main"
            return "SQLite's integrity check found damage: " + "; ".join(lines)
    except sqlite3.OperationalError:
        return None  # locked or unreadable, not damaged
    except sqlite3.DatabaseError as error:  # "malformed", "file is not a database"
        return f"SQLite says: {error}"
    finally:
        conn.close()
    return None


def set_aside(db_path: Path) -> Path:
    """Rename the damaged database (and its -wal/-shm companions); return the new name."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    kept = db_path.with_name(f"{db_path.name}.damaged-{stamp}")
    n = 2
    while kept.exists():
        kept = db_path.with_name(f"{db_path.name}.damaged-{stamp}-{n}")
        n += 1
    for suffix in ("-wal", "-shm"):
        companion = db_path.with_name(db_path.name + suffix)
        if companion.exists():
            os.replace(companion, kept.with_name(kept.name + suffix))
    os.replace(db_path, kept)
    return kept


def refusal(db_path: Path, problem: str) -> str:
    """Why a damaged project is not opened, and the two ways out."""
    folder = db_path.parent
    return (
        f"{db_path} cannot be used ({problem}); nothing was changed. Restore it from a "
        f"backup, or run `finetune-studio project repair {folder}` to keep it aside and "
        "list the runs again from their folders."
    )
