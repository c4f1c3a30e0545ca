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


def _models(args: argparse.Namespace) -> int:
    from core.models.bundled import BundledModelMissing, ensure_bundled_model
    from core.models.registry import list_base_models

    if args.models_command == "prepare":
        try:
            path = ensure_bundled_model(
                lambda fraction, message: print(f"{fraction:4.0%} {message}")
            )
        except BundledModelMissing as error:
            print(f"error: {error}")
            return EXIT_USAGE
        print(f"bundled model ready: {path}")
        return EXIT_OK
    for model in list_base_models(None):
        print(f"{model.name}\t{model.source}\t{model.path or 'not prepared (run: models prepare)'}")
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
    models = subparsers.add_parser("models", help="the bundled default model and base models")
    models.add_argument(
        "models_command",
        choices=["list", "prepare"],
        help="list, or prepare (convert) the bundled model",
    )
    models.set_defaults(func=_models)
    for _feature, module in core_parts("cli"):
        module.register(subparsers)
    return parser
