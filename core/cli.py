"""The headless face of FineTune Studio: `finetune-studio SUBCOMMAND ...`.

Each landed feature adds its subcommands through core/<feature>/cli.py's
`register(subparsers)`; a registered command sets `func(args) -> exit code`.
`run_command` runs it and turns any error into one line on stderr and an exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import sys
import traceback
from pathlib import Path

from core import __version__
from core.app_dirs import data_dir
from core.doctor import run_doctor
from core.errors import EXIT_ERRORS, EXIT_OK, describe_error
from core.features import core_parts
from core.models.cli import register as register_models
from core.runs.rebuild import repair_project
from core.training.simulate.cross_check import simulate_for_estimate

EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141  # 128 + SIGINT, 128 + SIGPIPE, as shells report
DEBUG_ENV = "FINETUNE_STUDIO_DEBUG"  # set to 1 to get the full traceback on stderr


def _write_crash_log(command: str) -> Path | None:
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
    report = run_doctor()
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.as_text())
    return EXIT_OK


def _project(args: argparse.Namespace) -> int:
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
    if "estimate" in subparsers.choices:
        # `estimate --simulate` runs training's simulated step; core.estimate sits below
        # core.training, so the top of the house wires the two together.
        subparsers.choices["estimate"].set_defaults(simulate_with=simulate_for_estimate)
    return parser
