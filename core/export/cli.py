"""`finetune-studio export`: a run's model as a LoRA adapter, a merged model or GGUF.

finetune-studio export RUN --to adapter|merged|gguf --out DIR [--project DIR]
                       [--parity EVAL_SET] [--overwrite] [--gguf-type q8_0|f16|f32]
                       [--gguf-converter auto|llama.cpp|builtin] [--llama-cpp DIR]
finetune-studio export --list [--project DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.app_dirs import default_projects_dir
from core.errors import describe_error
from core.export.exporter import ExportCancelled, export_run
from core.export.options import (
    FORMATS,
    GGUF_CONVERTERS,
    GGUF_TYPES,
    ExportOptions,
    ExportOptionsError,
    option_help,
)
from core.export.records import list_exports
from core.output_folder import OutputPathError
from core.output_lock import OutputBusyError
from core.project import open_project
from core.project.store import DB_NAME

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# Parity failed, or a GGUF was asked for and only the merged model could be written.
EXIT_INCOMPLETE = 3


def register(subparsers) -> None:
    export = subparsers.add_parser(
        "export",
        help="export a run's model: LoRA adapter, merged model or GGUF, with a model card",
        description="Export a finished run's model where people serve it. The folder appears "
        "only when complete; --parity re-runs an eval set on the export and compares.",
    )
    export.add_argument("run", nargs="?", help="the run id (see finetune-studio train --list)")
    export.add_argument("--to", dest="export_format", choices=FORMATS, help=option_help("format"))
    export.add_argument("--out", dest="export_out", metavar="DIR", help=option_help("out_dir"))
    export.add_argument(
        "--project",
        dest="export_project",
        metavar="DIR",
        help="the project folder (default: the current folder if it is a project, else the "
        "default project)",
    )
    export.add_argument(
        "--parity", metavar="EVAL_SET", default="", help=option_help("parity_eval_set")
    )
    export.add_argument("--overwrite", action="store_true", help=option_help("overwrite"))
    export.add_argument(
        "--gguf-type", choices=GGUF_TYPES, default="q8_0", help=option_help("gguf_type")
    )
    export.add_argument(
        "--gguf-converter",
        choices=GGUF_CONVERTERS,
        default="auto",
        help=option_help("gguf_converter"),
    )
    export.add_argument("--llama-cpp", metavar="DIR", default="", help=option_help("llama_cpp"))
    export.add_argument(
        "--list", dest="export_list", action="store_true", help="list the project's exports"
    )
    export.set_defaults(func=run_export_command)


def _project(folder: str | None):
    if folder:
        return open_project(Path(folder).expanduser())
    if (Path.cwd() / DB_NAME).is_file():
        return open_project(Path.cwd())

    return open_project(default_projects_dir() / "default")


def _print_exports(project) -> int:
    records = list_exports(project)
    if not records:
        print(f"no exports in {project.folder}")
    for record in records:
        parity = record.parity
        check = (
            "parity not checked"
            if parity is None
            else ("parity passed" if parity["passed"] else "PARITY FAILED")
        )
        missing = "" if record.exists else "  (folder gone)"
        print(f"{record.run_id}\t{record.format}\t{record.path}\t{check}{missing}")
    return EXIT_OK


def run_export_command(args: argparse.Namespace) -> int:
    try:
        project = _project(args.export_project)
    except Exception as error:
        print(f"error: cannot open the project: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.export_list:
        return _print_exports(project)
    if not args.run or not args.export_format or not args.export_out:
        print("error: give RUN, --to adapter|merged|gguf and --out DIR", file=sys.stderr)
        return EXIT_USAGE
    try:
        options = ExportOptions(
            format=args.export_format,
            out_dir=args.export_out,
            overwrite=args.overwrite,
            parity_eval_set=args.parity,
            gguf_type=args.gguf_type,
            gguf_converter=args.gguf_converter,
            llama_cpp=args.llama_cpp,
        )
    except ExportOptionsError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE

    def report(fraction: float, message: str) -> None:
        print(f"{fraction:4.0%} {message}", flush=True)

    try:
        result = export_run(project, args.run, options, progress=report)
    except ExportCancelled as error:
        print(str(error), file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted; nothing was written under the output name", file=sys.stderr)
        return EXIT_FAILED
    except OSError as error:  # a full disk, a folder we may not write: say which and why
        print(f"error: {describe_error(error)[0]}", file=sys.stderr)
        return EXIT_FAILED
    except OutputBusyError as error:  # another export is writing that folder: try later
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except OutputPathError as error:  # the --out given cannot be used: bad input
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, LookupError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print("\n".join(result.summary_lines()))
    if not result.complete or (result.parity is not None and not result.parity.passed):
        return EXIT_INCOMPLETE
    return EXIT_OK
