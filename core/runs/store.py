"""Changes a user makes to runs from the Runs page: rename, note, delete, and tidy leftovers.

Delete removes the database rows first, in one transaction, and the run folder after:
a crash or an error between the two leaves a folder that no row points to (shown as a
leftover the user can remove), never a row pointing at missing files. The folder is
first renamed to a `.deleting-` name so a half-removed folder never looks like a run.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from core.project.events import RUN_CHANGED, RUN_DELETED, announce
from core.project.store import utc_now
from core.runs.record import RunBusy, RunNotFound, is_run_active

DELETING_PREFIX = ".deleting-"
MAX_NAME_LENGTH = 200


def _row(project, run_id: str):
    row = (
        project.connection()
        .execute("SELECT run_id, name, folder FROM training_runs WHERE run_id = ?", (run_id,))
        .fetchone()
    )
    if row is None:
        raise RunNotFound(f"No run {run_id!r} in {project.folder}.")
    return row


def rename_run(project, run_id: str, name: str) -> str:
    """Give a run a new name (shown everywhere runs are listed); returns the old name."""
    clean = " ".join(name.split())
    if not clean:
        raise ValueError("A run needs a name; type one.")
    if len(clean) > MAX_NAME_LENGTH:
        raise ValueError(f"Run names are at most {MAX_NAME_LENGTH} characters.")
    old = _row(project, run_id)["name"]
    with project.transaction() as conn:
        conn.execute("UPDATE training_runs SET name = ? WHERE run_id = ?", (clean, run_id))
    announce(project, RUN_CHANGED, run_id)
    return old


def get_note(project, run_id: str) -> str:
    row = (
        project.connection()
        .execute("SELECT note FROM runs_notes WHERE run_id = ?", (run_id,))
        .fetchone()
    )
    return row[0] if row else ""


def set_note(project, run_id: str, note: str) -> str:
    """Set the user's note on a run (empty removes it); returns the previous note."""
    _row(project, run_id)
    old = get_note(project, run_id)
    with project.transaction() as conn:
        if note.strip():
            conn.execute(
                "INSERT INTO runs_notes(run_id, note, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(run_id) DO UPDATE SET note = excluded.note, "
                "updated_at = excluded.updated_at",
                (run_id, note.strip(), utc_now()),
            )
        else:
            conn.execute("DELETE FROM runs_notes WHERE run_id = ?", (run_id,))
    announce(project, RUN_CHANGED, run_id)
    return old


@dataclass(frozen=True)
class DeleteResult:
    run_id: str
    files_removed: bool
    problem: str = ""  # why the folder is still there (the run itself is gone)


def _inside_runs_dir(project, folder_name: str) -> Path:
    runs_dir = project.runs_dir.resolve()
    folder = (runs_dir / folder_name).resolve()
    if folder == runs_dir or runs_dir not in folder.parents:
        raise ValueError(f"{folder} is not inside {runs_dir}; not touching it.")
    return folder


def remove_run_folder(folder: Path) -> None:
    """Rename the folder out of the way, then remove it (raises OSError on failure)."""
    if not folder.exists():
        return
    target = folder
    if not folder.name.startswith(DELETING_PREFIX):
        target = folder.with_name(DELETING_PREFIX + folder.name)
        if target.exists():
            shutil.rmtree(target)
        folder.rename(target)
    shutil.rmtree(target)


def delete_run(project, run_id: str) -> DeleteResult:
    """Delete a run: every row that belongs to it first, then its folder.

    Its rows are its record, metrics and advice, note, cached estimate, export records and
    evaluation results (with their answers and A/B pairs); the evaluation sets stay.
    Refused while it trains.
    """
    row = _row(project, run_id)
    folder = _inside_runs_dir(project, row["folder"])
    if is_run_active(folder):
        raise RunBusy(f"{row['name']} is training; stop it on the Train page before deleting it.")
    with project.transaction() as conn:
        # Metrics and advice point at the run's row key, answers and pairs at the
        # evaluation result's: the foreign keys cascade them. The rest name the run by id.
        conn.execute("DELETE FROM training_runs WHERE run_id = ?", (run_id,))
        conn.execute("DELETE FROM runs_notes WHERE run_id = ?", (run_id,))
        conn.execute("DELETE FROM runs_estimates WHERE run_id = ?", (run_id,))
        conn.execute("DELETE FROM export_records WHERE run_id = ?", (run_id,))
        conn.execute("DELETE FROM evaluation_runs WHERE training_run = ?", (run_id,))
    announce(project, RUN_DELETED, run_id)
    # From here on the run is gone; a failure leaves a leftover folder, never a dangling row.
    try:
        remove_run_folder(folder)
    except OSError as error:
        return DeleteResult(
            run_id,
            False,
            f"The run was deleted but its folder could not be removed ({error}). It is listed "
            "under leftover folders; remove it there or by hand.",
        )
    return DeleteResult(run_id, True)


def leftover_folders(project) -> list[Path]:
    """Folders under runs/ that no run points to (an unfinished delete), skipping any that a
    training process holds (a run that is being created right now)."""
    runs_dir = project.runs_dir
    if not runs_dir.is_dir():
        return []
    known = {row[0] for row in project.connection().execute("SELECT folder FROM training_runs")}
    found = []
    for child in sorted(runs_dir.iterdir()):
        if not child.is_dir() or child.name in known:
            continue
        if child.name.startswith(".") and not child.name.startswith(DELETING_PREFIX):
            continue
        if is_run_active(child):
            continue
        found.append(child)
    return found


def remove_leftover_folders(project) -> list[str]:
    """Remove every leftover folder; returns the problems (empty when all went)."""
    problems = []
    for folder in leftover_folders(project):
        try:
            remove_run_folder(folder)
        except OSError as error:
            problems.append(f"{folder}: {error}")
    return problems
