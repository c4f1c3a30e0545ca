"""An exclusive lock on an open file that the operating system drops when the process ends,
however it ends: flock on POSIX, a byte-range lock on Windows. Used for the lock of a
run being trained (core.runs.record.RunLock) and of an output being written
(core.output_lock)."""

from __future__ import annotations

import os

try:  # platform-specific: fcntl on POSIX, msvcrt on Windows
    import fcntl

    msvcrt = None
except ImportError:
    import msvcrt

    fcntl = None


def try_lock(fd: int) -> bool:
    """Take the lock of the file open as `fd` without waiting; False if another holds it."""
    if fcntl is None:
        os.lseek(fd, 0, os.SEEK_SET)  # Windows locks bytes from the current position
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def unlock(fd: int) -> None:
    if fcntl is None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_UN)
