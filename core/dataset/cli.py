"""`finetune-studio data validate|convert`: the dataset checks and conversions, headless.

validate prints one finding per line, `LINE:SEVERITY:CODE:message` (line 0 for the whole
file), or a JSON list with --json; it exits 0 without errors (warnings allowed), 1 with
errors, 2 when the file cannot be read at all.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.dataset.findings import ERROR
from core.dataset.formats import (
    CannotExport,
    ColumnMapping,
    check_export_target,
    export_dataset,
    import_dataset,
    is_unreadable,
    special_file_reason,
)
from core.dataset.preferences import is_preference_file
from core.dataset.preferences_cli import print_preference_findings
from core.dataset.validation import ValidationOptions, validate_dataset

EXIT_OK, EXIT_ERRORS, EXIT_UNREADABLE = 0, 1, 2
INPUT_FORMATS = ("auto", "jsonl", "alpaca", "sharegpt", "csv", "tsv", "parquet", "hf")


def _add_mapping_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("table columns (CSV/TSV/Parquet, when not obvious)")
    group.add_argument("--prompt-column", help="column with what the user asks")
    group.add_argument("--response-column", help="column with the reply to learn")
    group.add_argument("--system-column", help="optional column with a system prompt")


def _mapping(args: argparse.Namespace):
    if not (args.prompt_column or args.response_column):
        return None
    return ColumnMapping(
        prompt=args.prompt_column or "",
        response=args.response_column or "",
        system=args.system_column,
    )


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="validate and convert chat datasets")
    commands = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)

    validate = commands.add_parser(
        "validate",
        help="check a dataset file: errors that block training and the known pitfalls",
        description="Print every finding as LINE:SEVERITY:CODE:message. Exit 0 without "
        "errors (warnings allowed), 1 with errors, 2 when the file cannot be read.",
    )
    validate.add_argument(
        "file", help="a .jsonl/.json/.csv/.tsv/.parquet file or a save_to_disk folder"
    )
    validate.add_argument("--format", choices=INPUT_FORMATS, default="auto", help="input format")
    validate.add_argument(
        "--max-seq-len",
        type=int,
        help="flag examples longer than this many tokens (needs --tokenizer)",
    )
    validate.add_argument(
        "--tokenizer", help="model folder (or SmolLM2-135M-Instruct) whose tokenizer counts tokens"
    )
    validate.add_argument("--json", action="store_true", help="print a JSON list of findings")
    validate.add_argument(
        "--no-near-duplicates", action="store_true", help="skip the near-duplicate search"
    )
    _add_mapping_arguments(validate)
    validate.set_defaults(func=_validate)

    convert = commands.add_parser(
        "convert",
        help="convert between JSONL (OpenAI messages), Alpaca, ShareGPT, CSV, TSV, Parquet, save_to_disk",
        description="CSV/TSV output: a cell that begins with =, +, -, @, a tab or a carriage "
        "return (or with an apostrophe) gets one leading apostrophe, so a spreadsheet shows it "
        "as text instead of running it as a formula. Importing the file here removes that "
        "apostrophe again, so the data comes back unchanged. Outputs inside a project folder "
        "are refused, except in its exports/ folder.",
    )
    convert.add_argument("input", help="file or folder to read")
    convert.add_argument(
        "output",
        help="file or folder to write (a name without suffix: a save_to_disk folder); "
        "an existing one is refused unless --overwrite",
    )
    convert.add_argument("--from", dest="source_format", choices=INPUT_FORMATS, default="auto")
    convert.add_argument("--to", dest="target_format", choices=INPUT_FORMATS, default="auto")
    convert.add_argument(
        "--allow-loss",
        action="store_true",
        help="leave out examples the target format cannot hold (instead of refusing)",
    )
    convert.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output file, or a folder an earlier convert wrote (a folder "
        "FineTune Studio did not write is never replaced)",
    )
    _add_mapping_arguments(convert)
    convert.set_defaults(func=_convert)


def _load(args: argparse.Namespace, fmt: str, stream: bool = False):
    try:
        mapping = _mapping(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return None
    path = args.file if hasattr(args, "file") else args.input
    return import_dataset(path, fmt, mapping, stream=stream)


def _validate(args: argparse.Namespace) -> int:
    if args.max_seq_len is not None and not args.tokenizer:
        print("error: --max-seq-len needs --tokenizer MODEL to count tokens", file=sys.stderr)
        return EXIT_UNREADABLE
    reason = special_file_reason(Path(args.file))
    if reason:  # before anything opens it: a FIFO blocks the first read for ever
        print(f"error: {args.file} is {reason}, not a file; give a dataset file.", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.format in ("auto", "jsonl") and is_preference_file(args.file):
        try:
            n_errors = print_preference_findings(
                args.file, args.tokenizer, args.max_seq_len, args.json
            )
        except (OSError, ValueError) as error:  # unreadable file, a tokenizer that cannot load
            print(f"error: {error}", file=sys.stderr)
            return EXIT_UNREADABLE
        return EXIT_ERRORS if n_errors else EXIT_OK
    dataset = _load(args, args.format, stream=True)  # one pass: never all examples in memory
    if dataset is None:
        return EXIT_UNREADABLE
    if is_unreadable(dataset):
        findings = dataset.load_findings
    else:
        try:
            options = ValidationOptions(
                max_seq_length=args.max_seq_len,
                tokenizer=args.tokenizer,
                near_duplicates=not args.no_near_duplicates,
            )
            findings = validate_dataset(dataset, options).findings
        except (OSError, ValueError) as error:  # a tokenizer that cannot be loaded
            print(f"error: {error}", file=sys.stderr)
            return EXIT_UNREADABLE
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "line": f.line,
                        "severity": f.severity,
                        "code": f.code,
                        "message": f.message,
                        "fix": f.fix,
                        "example": f.example,
                        "message_index": f.message_index,
                    }
                    for f in findings
                ],
                indent=1,
                ensure_ascii=False,
            )
        )
    else:
        for finding in findings:
            print(finding.as_line())
    n_errors = sum(1 for f in findings if f.severity == ERROR)
    n_warnings = sum(1 for f in findings if f.severity == "warning")
    print(f"{len(dataset):,} examples: {n_errors} errors, {n_warnings} warnings", file=sys.stderr)
    if is_unreadable(dataset):
        return EXIT_UNREADABLE
    return EXIT_ERRORS if n_errors else EXIT_OK


def _convert(args: argparse.Namespace) -> int:
    try:  # before reading the input: a refused output should not wait for a big file
        check_export_target(args.output, args.target_format, args.overwrite)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    dataset = _load(args, args.source_format)
    if dataset is None:
        return EXIT_UNREADABLE
    for finding in dataset.load_findings:
        print(finding.as_line(), file=sys.stderr)
    if is_unreadable(dataset):
        return EXIT_UNREADABLE
    try:
        written = export_dataset(
            dataset,
            args.output,
            fmt=args.target_format,
            allow_loss=args.allow_loss,
            overwrite=args.overwrite,
        )
    except CannotExport as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERRORS
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    left_out = len(dataset) - written
    print(
        f"wrote {written:,} examples to {args.output}"
        + (f" ({left_out:,} left out: the format cannot hold them)" if left_out else "")
    )
    return EXIT_OK
