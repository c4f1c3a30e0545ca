"""The headless face of FineTune Studio: `finetune-studio SUBCOMMAND ...`.

Each landed feature adds its subcommands through core/<feature>/cli.py's
`register(subparsers)`; a registered command sets `func(args) -> exit code`.
`run_command` runs it and turns any error into one line on stderr and an exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import sys
from pathlib import Path

from core import __version__
from core.features import core_parts
from core.project.store import NewerSchemaError, NotAProjectError

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141  # 128 + SIGINT, 128 + SIGPIPE, as shells report
DEBUG_ENV = "FINETUNE_STUDIO_DEBUG"  # set to 1 to get the full traceback on stderr


def _where(error: OSError) -> str:
    return f"{error.filename}" if error.filename is not None else "a file"


def describe_error(error: BaseException) -> tuple[str, int] | None:
    """(one line for the user, exit code) for an error bad input or the machine can cause;
    None for an unexpected one (a bug)."""
    import sqlite3

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


def _write_crash_log(command: str) -> Path | None:
    import datetime as _dt
    import traceback

    from core.app_dirs import data_dir

    try:
        folder = data_dir() / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = folder / f"error-{stamp}-{os.getpid()}.log"
        path.write_text(f"finetune-studio {command}\n{traceback.format_exc()}", encoding="utf-8")
        return path
    except OSError:
        return None


def _silence_stdout() -> None:
    # The reader left (`| head`): point stdout at devnull so the exit flush stays quiet.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def run_command(args: argparse.Namespace) -> int:
    """Run a parsed subcommand; every error becomes one line on stderr and an exit code
    (2 for bad input). A traceback only with FINETUNE_STUDIO_DEBUG=1, or in a log file
    for an unexpected error."""
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    return _run(args, debug)


def _run(args: argparse.Namespace, debug: bool) -> int:
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # inside the try: a closed pipe shows up here, not at exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if debug:
            import traceback

            traceback.print_exc()
        described = describe_error(error)
        if described is not None:
            message, code = described
            print(f"error: {message}", file=sys.stderr)
            return code
        log = None if debug else _write_crash_log(getattr(args, "command", "") or "")
        where = f"; the full traceback is in {log}" if log else ""
        print(
            f"error: unexpected {type(error).__name__}: {error}{where}. Please report it "
            f"(run again with {DEBUG_ENV}=1 to see the traceback here).",
            file=sys.stderr,
        )
        return EXIT_ERRORS


def _doctor(args: argparse.Namespace) -> int:
    from core.doctor import run_doctor

    report = run_doctor()
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.as_text())
    return EXIT_OK


def _project(args: argparse.Namespace) -> int:
    from core.runs.rebuild import repair_project

    project = repair_project(args.folder)
    print(project.notice)
    project.close()
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finetune-studio",
        description="Fine-tune a language model on your own GPU. With no command, opens the app.",
        epilog=f"Errors are one line on stderr (exit 2: bad input). Set {DEBUG_ENV}=1 to see "
        "the full traceback.",
    )
    parser.add_argument("--version", action="version", version=f"FineTune Studio {__version__}")
    parser.add_argument("--project", help="open this project folder in the app")
    parser.add_argument("--demo", action="store_true", help="open the demo project in the app")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    doctor = subparsers.add_parser(
        "doctor", help="hardware, library versions, whether QLoRA works here, folders"
    )
    doctor.add_argument("--json", action="store_true", help="print one JSON object")
    doctor.set_defaults(func=_doctor)
    from core.models.cli import register as register_models

    register_models(subparsers)
    project = subparsers.add_parser("project", help="repair a project whose database is damaged")
    project.add_argument(
        "project_command",
        choices=["repair"],
        help="repair: keep a damaged project.sqlite aside (renamed, never deleted), start a new "
        "one and list the runs again from their folders",
    )
    project.add_argument("folder", help="the project folder")
    project.set_defaults(func=_project)
    for _feature, module in core_parts("cli"):
        module.register(subparsers)
    return parser
