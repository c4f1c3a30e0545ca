"""The `finetune-studio` command: the GUI with no argument, the headless core otherwise."""

from __future__ import annotations

import sys

from core.cli import build_parser, run_command
from core.network_policy import go_offline
from core.project.demo import ensure_demo_project
from desktop import screenshot
from desktop.app import run_gui


def main(argv: list[str] | None = None) -> int:
    go_offline()  # before any Hugging Face library is imported: nothing reaches the network
    parser = build_parser()
    subparsers = next(
        action
        for action in parser._actions
        if action.dest == "command"  # argparse has no getter
    )
    screenshot.register(subparsers)
    args = parser.parse_args(argv)
    if args.command is None:
        if args.demo:
            return run_gui(str(ensure_demo_project().folder))
        return run_gui(args.project)
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
