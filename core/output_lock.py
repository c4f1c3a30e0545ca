"""One writer per output path at a time, across processes.

Two exports with --overwrite into one folder would both pass the output checks, both
write, and the later rename would replace the earlier one while that process still
reported its own format there. `output_lock(path)` takes an exclusive lock on a hidden
sibling (`.NAME.lock`) for the whole write; a second writer is refused at once with a
message that says who holds it. The operating system drops the lock when the process
ends, however it ends, so a killed export never leaves the folder locked.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from core.file_lock import try_lock
from core.output_folder import OutputPathError

LOCK_SUFFIX = ".lock"


class OutputBusyError(OutputPathError):
    """Another process (or task) is writing the same output right now."""


def lock_path(path: str | os.PathLike) -> Path:
    path = Path(path).expanduser().absolute()
    return path.parent / f".{path.name}{LOCK_SUFFIX}"


def _holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (process {pid})" if pid.isdigit() else ""


@contextlib.contextmanager
def output_lock(path: str | os.PathLike) -> Iterator[Path]:
    """Hold the write lock of `path` for the block, or raise OutputBusyError at once."""
    target = Path(path).expanduser().absolute()
    lock = lock_path(target)
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        if not try_lock(fd):
            os.close(fd)
            raise OutputBusyError(
                f"{target} is being written by another export right now{_holder(lock)}; "
                "wait for it to finish, or choose another folder. Nothing was changed."
            )
        # The holder before us may have removed the lock file after we opened it: a lock
        # on a removed file guards nothing, so start again on the file that is there now.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        yield target
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)  # while still holding it, so nobody else locks this inode
        os.close(fd)
