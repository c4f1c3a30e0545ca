"""The headless face of FineTune Studio: `finetune-studio SUBCOMMAND ...`.

Each landed feature adds its subcommands through core/<feature>/cli.py's
`register(subparsers)`; a registered command sets `func(args) -> exit code`.
"""

from __future__ import annotations

import argparse
import json

from core import __version__
from core.features import core_parts

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


def _doctor(args: argparse.Namespace) -> int:
    from core.doctor import run_doctor

    report = run_doctor()
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.as_text())
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finetune-studio",
        description="Fine-tune a language model on your own GPU. With no command, opens the app.",
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
    for _feature, module in core_parts("cli"):
        module.register(subparsers)
    return parser
