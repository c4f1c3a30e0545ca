"""An export folder that appears under its final name only when it is complete.

Everything is written into a hidden sibling (`.NAME.partial-PID`) that is renamed to NAME
at the end. A cancel or an error removes the sibling; a killed process leaves it behind,
never a half-written NAME, and the next export into the same parent removes it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from core.output_folder import (
    OutputPathError,
    is_our_output,
    prepare_output_folder,
    refuse_project_data,
    write_marker,
)

PARTIAL_MARK = ".partial-"


# One error type for every refused output path, so callers catch one thing.
ExportFolderError = OutputPathError
EXPORT_KIND = "export"


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: leave its folder alone
    return True


def partial_folders(final: Path) -> list[Path]:
    """Hidden staging siblings of `final` left by earlier exports."""
    prefix = f".{final.name}{PARTIAL_MARK}"
    if not final.parent.is_dir():
        return []
    return sorted(p for p in final.parent.iterdir() if p.name.startswith(prefix) and p.is_dir())


def remove_stale_partials(final: Path) -> list[Path]:
    """Remove the staging folders of exports whose process has died (killed, power cut)."""
    removed = []
    for folder in partial_folders(final):
        pid_text = folder.name.rsplit(PARTIAL_MARK, 1)[-1]
        pid = int(pid_text) if pid_text.isdigit() else -1
        ours = is_our_output(folder) or not any(folder.iterdir())
        if ours and (pid == os.getpid() or not _process_alive(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def check_output_folder(
    final: Path, overwrite: bool, project=None, run_folder: Path | None = None
) -> None:
    """Refuse a target that would lose files: the user's (any non-empty folder we did not
    write, even with overwrite), the project's own data, or the run being exported."""
    if project is not None or run_folder is not None:
        refuse_project_data(
            final,
            project=Path(project.folder) if project is not None else None,
            protected=[run_folder] if run_folder is not None else [],
        )
    prepare_output_folder(final, overwrite)


class StagedFolder:
    """Write into `.path` (a sibling of `final`); `commit()` renames it to `final`."""

    def __init__(
        self, final: str | Path, overwrite: bool = False, project=None, run_folder=None
    ) -> None:
        self.final = Path(final).expanduser().absolute()
        self.overwrite = overwrite
        self.project = project
        self.run_folder = run_folder
        self.path = self.final.parent / f".{self.final.name}{PARTIAL_MARK}{os.getpid()}"
        self.committed = False

    def __enter__(self) -> StagedFolder:
        check_output_folder(self.final, self.overwrite, self.project, self.run_folder)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(self.final)
        self.path.mkdir()
        write_marker(self.path, EXPORT_KIND)  # lets a later --overwrite replace it
        return self

    def commit(self) -> Path:
        """Put the finished folder under its final name (replacing an old one if allowed)."""
        check_output_folder(self.final, self.overwrite, self.project, self.run_folder)
        old = None
        if self.final.exists():
            # Moved aside first, so at every instant `final` is the old export or the new one.
            old = self.final.parent / f".{self.final.name}.replaced-{os.getpid()}"
            shutil.rmtree(old, ignore_errors=True)
            self.final.rename(old)
        self.path.rename(self.final)
        self.committed = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        with contextlib.suppress(OSError):
            fd = os.open(self.final.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return self.final

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.committed:
            shutil.rmtree(self.path, ignore_errors=True)
