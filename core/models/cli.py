"""`finetune-studio models list|prepare|download|trust|convert`: the models on this machine,
fetching one, trusting a folder's own code, and converting pickle weights to safetensors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.errors import EXIT_ERRORS, EXIT_OK, EXIT_USAGE
from core.models.bundled import BundledModelMissing, ensure_bundled_model
from core.models.convert_weights import convert_to_safetensors
from core.models.download import DownloadError, download_model
from core.models.inventory import available_models
from core.models.model_facts import human_size
from core.models.remote_code import find_custom_code, trust_folder
from core.output_lock import OutputBusyError
from core.project import open_project


def register(subparsers) -> None:
    models = subparsers.add_parser(
        "models",
        help="list the models on this machine, prepare the bundled one, download from the Hub",
        description="list: the bundled model, the project's folders and the Hugging Face cache "
        "(read from disk, no network). download: fetch a Hub model into the Hugging Face cache.",
    )
    models.add_argument(
        "models_command",
        choices=["list", "prepare", "download", "trust", "convert"],
        help="list, prepare (convert) the bundled model, download HUB_ID, trust FOLDER's "
        "own code (auto_map, .py files), or convert FOLDER's pickle .bin weights to "
        "safetensors in a new folder (FOLDER-safetensors; FOLDER itself is not changed)",
    )
    models.add_argument(
        "hub_id",
        nargs="?",
        help="for download: org/name on the Hugging Face Hub; for trust and convert: the "
        "model folder",
    )
    models.add_argument(
        "--out", dest="convert_out", help="for convert: the new folder (default FOLDER-safetensors)"
    )
    models.add_argument(
        "--overwrite",
        dest="convert_overwrite",
        action="store_true",
        help="for convert: replace a folder an earlier convert wrote",
    )
    models.add_argument("--revision", help="for download: branch, tag or commit (default main)")
    models.add_argument(
        "--project", dest="models_project", help="for list: also the folders this project added"
    )
    models.set_defaults(func=run_models)


def _list(args) -> int:
    project = None
    if args.models_project:
        project = open_project(args.models_project)
    try:
        entries = available_models(project)
    finally:
        if project is not None:
            project.close()
    print("NAME\tSOURCE\tSIZE\tARCHITECTURE\tLICENSE\tWEIGHTS\tPATH")
    for entry in entries:
        model, facts = entry.model, entry.facts
        if facts is None:
            print(f"{model.name}\t{model.source}\t-\t-\t-\t-\tnot prepared (run: models prepare)")
            continue
        print(
            f"{model.name}\t{entry.source_text}\t{human_size(facts.size_bytes)}\t"
            f"{facts.architecture or '-'}\t{facts.license or '-'}\t{facts.weights_text}\t"
            f"{model.path}"
        )
    return EXIT_OK


def _download(args) -> int:
    if not args.hub_id:
        print("error: name the model: finetune-studio models download ORG/NAME", file=sys.stderr)
        return EXIT_USAGE
    last = [(-1, "")]

    def progress(fraction: float, message: str) -> None:
        # One line per percent or per file, not one per chunk.
        key = (int(fraction * 100), message.split(" · ")[0])
        if key != last[0]:
            last[0] = key
            print(f"{key[0]:3d}% {message}", file=sys.stderr, flush=True)

    try:
        result = download_model(args.hub_id, args.revision, progress=progress)
    except KeyboardInterrupt:
        print("cancelled; run the same command again to continue", file=sys.stderr)
        return EXIT_ERRORS
    except DownloadError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE if error.kind in ("usage", "gated", "not_found", "auth") else EXIT_ERRORS
    print(f"{result.hub_id} at revision {result.revision}: {result.path}")
    return EXIT_OK


def _trust(args) -> int:
    if not args.hub_id:
        print("error: give the model folder to trust: models trust FOLDER", file=sys.stderr)
        return EXIT_USAGE
    try:
        folder = trust_folder(args.hub_id)
    except (FileNotFoundError, ValueError) as error:  # not a folder; the root or home
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    reasons = find_custom_code(folder)
    print(f"trusted: {folder} may now run its own code ({len(reasons)} places ask for it)")
    return EXIT_OK


def _convert(args) -> int:
    if not args.hub_id:
        print("error: give the model folder: models convert FOLDER", file=sys.stderr)
        return EXIT_USAGE
    try:
        out = convert_to_safetensors(
            args.hub_id,
            args.convert_out,
            overwrite=args.convert_overwrite,
            progress=lambda message: print(message, file=sys.stderr, flush=True),
        )
    except OutputBusyError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERRORS
    except ValueError as error:  # ConvertError, OutputPathError: bad input, nothing changed
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"converted: {out} (use this folder; {Path(args.hub_id)} was not changed)")
    return EXIT_OK


def run_models(args: argparse.Namespace) -> int:
    if args.models_command == "trust":
        return _trust(args)
    if args.models_command == "convert":
        return _convert(args)
    if args.models_command == "download":
        return _download(args)
    if args.models_command == "list":
        return _list(args)

    try:
        path = ensure_bundled_model(lambda fraction, message: print(f"{fraction:4.0%} {message}"))
    except BundledModelMissing as error:
        print(f"error: {error}")
        return EXIT_USAGE
    print(f"bundled model ready: {path}")
    return EXIT_OK
