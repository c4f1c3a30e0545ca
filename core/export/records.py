"""Completed exports in the project database, so the Runs page can say where a run went."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.project.store import utc_now


@dataclass(frozen=True)
class ExportRecord:
    id: int
    run_id: str
    format: str
    path: Path
    parity: dict | None
    result: dict
    created_at: str

    @property
    def exists(self) -> bool:
        return self.path.is_dir()


def add_export_record(project, run_id: str, fmt: str, path: Path, parity, result: dict) -> int:
    with project.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO export_records(run_id, format, path, parity_json, result_json, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                run_id,
                fmt,
                str(path),
                json.dumps(parity) if parity is not None else None,
                json.dumps(result),
                utc_now(),
            ),
        )
        return cursor.lastrowid


def list_exports(project, run_id: str | None = None) -> list[ExportRecord]:
    """Exports, newest first (of one run, or all)."""
    query = "SELECT * FROM export_records"
    params: tuple = ()
    if run_id is not None:
        query += " WHERE run_id = ?"
        params = (run_id,)
    rows = project.connection().execute(query + " ORDER BY id DESC", params).fetchall()
    return [
        ExportRecord(
            id=row["id"],
            run_id=row["run_id"],
            format=row["format"],
            path=Path(row["path"]),
            parity=json.loads(row["parity_json"]) if row["parity_json"] else None,
            result=json.loads(row["result_json"]),
            created_at=row["created_at"],
        )
        for row in rows
    ]
