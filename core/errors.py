"""What an error that bad input or the machine can cause means, in one line for the user,
with the exit code the CLI gives it (2 for bad input). Low in the house so that every
feature's command can word an error the way `finetune-studio` does.
"""

from __future__ import annotations

import errno
import sqlite3

from core.project.store import NewerSchemaError, NotAProjectError

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


def _where(error: OSError) -> str:
    return f"{error.filename}" if error.filename is not None else "a file"


def describe_error(error: BaseException) -> tuple[str, int] | None:
    """(one line for the user, exit code) for an error bad input or the machine can cause;
    None for an unexpected one (a bug)."""
    if isinstance(error, OSError):
        where = _where(error)
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            return (
                f"the disk is full: could not write {where}. Free some space on that disk "
                "(or choose a folder on another one) and run it again; nothing was replaced.",
                EXIT_ERRORS,
            )
        if error.errno == errno.ELOOP:
            return f"{where} is a link loop (a link that points back to itself).", EXIT_USAGE
        if isinstance(error, IsADirectoryError):
            return f"{where} is a folder; give a file.", EXIT_USAGE
        if isinstance(error, NotADirectoryError):
            return f"{where}: a part of this path is a file, not a folder.", EXIT_USAGE
        if isinstance(error, FileNotFoundError):
            return f"{where} does not exist.", EXIT_USAGE
        if isinstance(error, PermissionError):
            return f"no permission to use {where}; check its owner and mode.", EXIT_USAGE
        return f"{where}: {error.strerror or error}", EXIT_ERRORS
    if isinstance(error, (NewerSchemaError, NotAProjectError)):
        return str(error), EXIT_USAGE  # the message says what to do (update; another folder)
    if isinstance(error, RecursionError):
        return (
            "the input is nested too deeply to read (thousands of levels of brackets); "
            "it is not a dataset or config FineTune Studio can use.",
            EXIT_USAGE,
        )
    if isinstance(error, sqlite3.DatabaseError):
        if "full" in str(error):  # SQLite's own ENOSPC: "database or disk is full"
            return (
                "the disk holding the project is full (SQLite: database or disk is full). "
                "Free some space and run it again; what was saved before is intact.",
                EXIT_ERRORS,
            )
        text = str(error)
        return text if "project.sqlite" in text else f"the project database: {text}", EXIT_USAGE
    if isinstance(error, (ValueError, LookupError, UnicodeError)):
        return str(error) or f"{type(error).__name__} (no details)", EXIT_USAGE
    return None
