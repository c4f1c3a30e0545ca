"""A project on disk: one SQLite database (WAL) plus folders for datasets, runs and evals.

Schema versions are kept per component (the project itself and each feature), so that
features add tables without touching each other's migrations. A project written by a
newer FineTune Studio is refused before anything is written to it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.features import core_parts
from core.project import recover
from core.project import schema as project_schema

DB_NAME = "project.sqlite"
SUBFOLDERS = ("datasets", "runs", "evals")
BUSY_TIMEOUT_MS = 15_000


class NotAProjectError(Exception):
    """The folder holds no project.sqlite."""


class NewerSchemaError(Exception):
    """The project was written by a newer FineTune Studio; we refuse to touch it."""


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def schema_components() -> list[tuple[str, list]]:
    """(component, migrations) for the project and every landed feature with a schema."""
    components = [("project", project_schema.MIGRATIONS)]
    components += [(name, module.MIGRATIONS) for name, module in core_parts("schema")]
    return components


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements (executescript would commit our transaction)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def _connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _stored_versions(conn: sqlite3.Connection) -> dict[str, int]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER)"
    )
    return {
        row[0]: row[1] for row in conn.execute("SELECT component, version FROM schema_versions")
    }


def _check_not_newer(db_path: Path, stored: dict[str, int], components: list) -> None:
    known = {name: len(migrations) for name, migrations in components}
    for name, version in stored.items():
        if name not in known:
            raise NewerSchemaError(
                f"{db_path} was written by a newer FineTune Studio (it has '{name}' data that this "
                "version does not know). Update FineTune Studio to open it; the project was not changed."
            )
        if version > known[name]:
            raise NewerSchemaError(
                f"{db_path} was written by a newer FineTune Studio ('{name}' schema v{version}, this "
                f"version knows up to v{known[name]}). Update FineTune Studio to open it; the project "
                "was not changed."
            )


def migrate(db_path: Path) -> dict[str, int]:
    """Bring every component up to date in one IMMEDIATE transaction; return the versions."""
    components = schema_components()
    conn = _connect(db_path)
    try:
        conn.execute("BEGIN IMMEDIATE")  # one migrator at a time, across processes
        try:
            stored = _stored_versions(conn)
            _check_not_newer(db_path, stored, components)
            for name, migrations in components:
                current = stored.get(name, 0)
                for step in migrations[current:]:
                    if callable(step):
                        step(conn)
                    else:
                        for statement in _split_sql(step):
                            conn.execute(statement)
                if current != len(migrations):
                    conn.execute(
                        "INSERT INTO schema_versions(component, version) VALUES (?, ?) "
                        "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                        (name, len(migrations)),
                    )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return {name: len(m) for name, m in components}
    finally:
        conn.close()


@dataclass
class Project:
    """An open project. Connections are per thread (the trainer writes from its own)."""

    folder: Path
    _local: threading.local = field(default_factory=threading.local, repr=False, compare=False)
    # Set when opening had to repair something (core.runs.rebuild): show it to the user.
    notice: str = field(default="", compare=False)

    @property
    def db_path(self) -> Path:
        return self.folder / DB_NAME

    @property
    def datasets_dir(self) -> Path:
        return self.folder / "datasets"

    @property
    def runs_dir(self) -> Path:
        return self.folder / "runs"

    @property
    def evals_dir(self) -> Path:
        return self.folder / "evals"

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.db_path)
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: all of it lands or none of it does."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # Small key-value facts about the project (name, created_at, notes, ...).
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = (
            self.connection()
            .execute("SELECT value FROM project_meta WHERE key = ?", (key,))
            .fetchone()
        )
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO project_meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    @property
    def name(self) -> str:
        return self.get_meta("name") or self.folder.name

    def schema_versions(self) -> dict[str, int]:
        rows = self.connection().execute("SELECT component, version FROM schema_versions")
        return {row[0]: row[1] for row in rows}


def create_project(folder: str | Path, name: str | None = None) -> Project:
    """Create a project in `folder` (which may exist, but must not hold a project yet)."""
    folder = Path(folder).expanduser().resolve()
    if (folder / DB_NAME).exists() and not (folder / DB_NAME).is_file():
        raise NotAProjectError(
            f"{folder / DB_NAME} is a folder, not a project database; move it away to "
            "create a project here, or choose another folder."
        )
    if (folder / DB_NAME).exists():
        raise FileExistsError(f"{folder} already holds a project; open it instead.")
    folder.mkdir(parents=True, exist_ok=True)
    for sub in SUBFOLDERS:
        (folder / sub).mkdir(exist_ok=True)
    migrate(folder / DB_NAME)
    project = Project(folder)
    with project.transaction() as conn:
        for key, value in (("name", name or folder.name), ("created_at", utc_now())):
            conn.execute(
                "INSERT OR IGNORE INTO project_meta(key, value) VALUES (?, ?)", (key, value)
            )
    return project


def open_project(folder: str | Path) -> Project:
    """Open an existing project, migrating an older schema forward (never a newer one)."""
    folder = Path(folder).expanduser().resolve()
    db_path = folder / DB_NAME
    if not db_path.is_file():
        raise NotAProjectError(
            f"{folder} is not a FineTune Studio project (no {DB_NAME}). "
            "Choose a project folder, or create a new project there."
        )
    # A damaged database is refused untouched (SQLite would make an empty file a new,
    # empty project and the runs would vanish); `finetune-studio project repair` fixes it.
    problem = recover.database_problem(db_path)
    if problem is None:
        try:
            migrate(db_path)
        except sqlite3.OperationalError as error:  # locked, read-only, disk I/O
            raise recover.ProjectDatabaseError(
                f"{db_path} cannot be opened ({error}); nothing was changed. Check that the "
                "folder is writable and that no other program holds the file."
            ) from None
        except sqlite3.DatabaseError as error:  # "malformed", "file is not a database"
            problem = f"SQLite says: {error}"
    if problem is not None:
        raise recover.ProjectDatabaseError(recover.refusal(db_path, problem), damaged=True)
    for sub in SUBFOLDERS:
        (folder / sub).mkdir(exist_ok=True)
    return Project(folder)
