"""Import from and export to the common dataset formats, with automatic format detection.

Formats: jsonl (OpenAI messages), alpaca, sharegpt (JSON array or JSONL), csv, tsv,
parquet, hf (a folder written by `datasets.save_to_disk`). Importing never raises for
bad content: problems become findings, and a file that cannot be read at all gives a
Dataset with no examples and one `unreadable` error. Exporting refuses (CannotExport)
when the target format cannot hold the data, unless allow_loss=True.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from core.atomic_file import atomic_open
from core.dataset.file_examples import FileExamples
from core.dataset.findings import ERROR, INFO, Finding
from core.dataset.formats.conversions import (
    ALPACA,
    MESSAGES,
    SHAREGPT,
    ColumnMapping,
    record_from_any,
    record_kind,
    record_to_alpaca,
    record_to_row,
    record_to_sharegpt,
)
from core.dataset.formats.json_records import read_json_records
from core.dataset.formats.tables import (
    escape_cell,
    json_safe,
    preview_table,
    read_delimited,
    read_parquet_rows,
    rows_to_examples,
)
from core.dataset.jsonl import parse_jsonl_bytes, write_jsonl
from core.dataset.model import Dataset, Example
from core.dataset.progress import Cancelled, IsCancelled, Progress
from core.output_folder import (
    prepare_output_file,
    prepare_output_folder,
    refuse_project_data,
    write_marker,
)

FORMATS = ("jsonl", "alpaca", "sharegpt", "csv", "tsv", "parquet", "hf")
UNREADABLE = "unreadable"
HF_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")

__all__ = [
    "FORMATS",
    "UNREADABLE",
    "CannotExport",
    "ColumnMapping",
    "check_export_target",
    "detect_format",
    "export_dataset",
    "import_dataset",
    "is_unreadable",
    "preview_table",
    "special_file_reason",
]


class CannotExport(Exception):
    """The chosen format cannot hold this dataset without losing something."""


def _sniff_json_kind(path: Path) -> str:
    """The record shape of a .json/.jsonl file from its first record."""
    with open(path, "rb") as handle:
        head = handle.read(256 * 1024)
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
    first = None
    if text.startswith("["):
        start = len(text) - len(text[1:].lstrip())
        try:
            first, _ = json.JSONDecoder().raw_decode(text, start)
        except (ValueError, RecursionError):  # RecursionError: brackets nested 100k deep
            first = None
    else:
        for line in text.splitlines():
            if line.strip():
                try:
                    first = json.loads(line)
                except (ValueError, RecursionError):
                    first = None
                break
    return record_kind(first) or MESSAGES


def detect_format(path: str | os.PathLike) -> str:
    """The format of a file or folder, from its extension and its first record."""
    path = Path(path)
    if path.is_dir():
        if any((path / marker).exists() for marker in HF_MARKERS):
            return "hf"
        raise ValueError(
            f"{path} is a folder but not one written by datasets.save_to_disk "
            "(no dataset_info.json or dataset_dict.json)."
        )
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".tsv", ".tab"):
        return "tsv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if not path.exists():
        return {".json": "jsonl", ".jsonl": "jsonl"}.get(suffix, "jsonl")
    with open(path, "rb") as handle:  # 4 bytes, not the whole (maybe huge) file
        head = handle.read(4)
    if head == b"PAR1":
        return "parquet"
    return _sniff_json_kind(path)


# What starts files that are surely not text, for the ones without an early NUL byte.
_BINARY_MAGIC = {
    b"%PDF-": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (or an .xlsx/.docx file)",
    b"\x1f\x8b": "a gzip archive",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"SQLite format 3\x00": "an SQLite database",
    b"\x7fELF": "a program (an ELF executable)",
}
_TEXT_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")  # UTF-16/32: read elsewhere
BINARY_SNIFF_BYTES = 8192


def binary_reason(path: Path) -> str | None:
    """Why `path` is surely not a text file (NUL bytes, control bytes, a known binary
    header), from its first bytes; None when it looks like text."""
    with open(path, "rb") as handle:
        head = handle.read(BINARY_SNIFF_BYTES)
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            return f"it is {what}"
    if head.startswith(_TEXT_BOMS):
        return None
    nul = head.find(b"\x00")
    if nul >= 0:
        return (
            f"a NUL byte at offset {nul} (UTF-16 text without a byte-order "
            "mark looks like this too: save it as UTF-8)"
        )
    control = sum(1 for byte in head if byte < 32 and byte not in b"\t\n\r\f\x1b")
    if head and control / len(head) > 0.1:
        return f"{control} control bytes in its first {len(head)} bytes"
    return None


def special_file_reason(path: Path) -> str | None:
    """What `path` is when it exists but is neither a regular file nor a folder (read
    without opening it); None otherwise."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # missing or unreadable: the normal reading says why
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def is_unreadable(dataset: Dataset) -> bool:
    """True when the file could not be read at all (not even one line)."""
    return any(f.code == UNREADABLE for f in dataset.load_findings)


def _unreadable(path: Path, fmt: str, reason: str, message: str | None = None) -> Dataset:
    finding = Finding(
        ERROR,
        UNREADABLE,
        (message or f"{path} cannot be read as {fmt}: {reason}").rstrip(".") + ".",
        fix="Check the file and the format (jsonl, alpaca, sharegpt, csv, tsv, parquet, hf).",
        file=str(path),
    )
    return Dataset([], name=path.stem, source_path=path, source_format=fmt, load_findings=[finding])


def _import_json_records(data: bytes, path: Path, kind: str) -> tuple[list[Example], list[Finding]]:
    records, findings = read_json_records(data, str(path))
    examples = []
    for raw in records:
        if raw.error is not None:
            examples.append(Example.broken(raw.raw, raw.line or None, raw.error))
            continue
        this_kind = record_kind(raw.value) or kind
        record, problem = record_from_any(raw.value, this_kind)
        if record is None:
            where = f"Line {raw.line}" if raw.line else f"Record {len(examples) + 1}"
            findings.append(
                Finding(
                    ERROR,
                    "not_convertible",
                    f"{where}: cannot read it as {this_kind}: {problem}.",
                    fix="Fix the record in the editor, or import with another --format.",
                    file=str(path),
                    line=raw.line or None,
                )
            )
            examples.append(Example.broken(raw.raw, raw.line or None, problem))
            continue
        examples.append(Example.from_record(record, line=raw.line or None))
    return examples, findings


def _import_hf(path: Path, mapping: ColumnMapping | None) -> tuple[list[Example], list[Finding]]:
    # datasets is heavy: loaded when data is tokenized
    import datasets

    loaded = datasets.load_from_disk(str(path))
    splits = dict(loaded) if isinstance(loaded, datasets.DatasetDict) else {"train": loaded}
    examples: list[Example] = []
    findings: list[Finding] = []
    for _split_name, split in splits.items():
        columns = list(split.column_names)
        rows = [(None, json_safe(row)) for row in split.to_list()]
        if "conversations" in columns:
            for _, row in rows:
                record, problem = record_from_any(row, SHAREGPT)
                examples.append(
                    Example.from_record(record)
                    if record is not None
                    else Example.broken(json.dumps(row, default=str).encode(), None, problem)
                )
        else:
            examples += rows_to_examples(columns, rows, mapping, str(path), findings)
    if len(splits) > 1:
        sizes = ", ".join(f"{name} ({len(split)})" for name, split in splits.items())
        findings.append(
            Finding(
                INFO,
                "splits_merged",
                f"The folder holds the splits {sizes}; they were read as one dataset.",
                fix="FineTune Studio makes its own train/validation split when you save a version.",
                file=str(path),
            )
        )
    return examples, findings


def _plain_jsonl(path: Path) -> bool:
    """JSONL that can be read a line at a time as UTF-8: not a JSON array, not UTF-16/32."""
    with open(path, "rb") as handle:
        head = handle.read(BINARY_SNIFF_BYTES)
    return not head.startswith(_TEXT_BOMS) and not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(
        b"["
    )


def import_dataset(
    path: str | os.PathLike,
    fmt: str = "auto",
    mapping: ColumnMapping | None = None,
    name: str | None = None,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
    stream: bool = False,
) -> Dataset:
    """Read any supported format into a Dataset; problems are in `dataset.load_findings`.

    stream=True (for a one-pass check of a file that may not fit in memory): a UTF-8
    JSONL file's examples are read from the file when used (core.dataset.file_examples),
    not held; other formats are read as usual."""
    path = Path(path)
    reason = special_file_reason(path)
    if reason:  # opening a FIFO waits for a writer forever; a device never ends
        return _unreadable(
            path, "a dataset", reason, f"{path} is {reason}, not a file; give a dataset file"
        )
    try:
        fmt = detect_format(path) if fmt == "auto" else fmt
    except (OSError, ValueError) as error:
        return _unreadable(path, "a dataset", str(error))
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    if fmt not in ("hf", "parquet"):
        # A binary file split at its newline bytes would import as "18 examples".
        try:
            reason = binary_reason(path)
        except OSError as error:
            return _unreadable(path, fmt, error.strerror or str(error))
        if reason:
            return _unreadable(
                path, fmt, reason, f"{path} is not a text file, so not a dataset: {reason}"
            )
    try:
        if fmt == "hf":
            examples, findings = _import_hf(path, mapping)
        elif fmt in ("csv", "tsv"):
            columns, rows, findings = read_delimited(path, "," if fmt == "csv" else "\t", cancelled)
            examples = rows_to_examples(columns, rows, mapping, str(path), findings)
        elif fmt == "parquet":
            columns, rows = read_parquet_rows(path)
            findings = []
            examples = rows_to_examples(columns, rows, mapping, str(path), findings)
        else:
            if stream and fmt == "jsonl" and _plain_jsonl(path):
                examples, findings = FileExamples.scan(path, progress, cancelled)
                return Dataset(
                    examples,  # a Sequence[Example] read from the file on access
                    name=name or path.stem,
                    source_path=path,
                    source_format=fmt,
                    load_findings=findings,
                )
            data = path.read_bytes()
            if fmt == "jsonl" and not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
                examples, findings = parse_jsonl_bytes(data, str(path), progress, cancelled)
            else:
                examples, findings = _import_json_records(
                    data, path, {"alpaca": ALPACA, "sharegpt": SHAREGPT}.get(fmt, MESSAGES)
                )
    except OSError as error:
        return _unreadable(path, fmt, error.strerror or str(error))
    except Exception as error:  # a library's parser refusing the whole file (pyarrow, datasets)
        if isinstance(error, Cancelled):
            raise
        return _unreadable(path, fmt, f"{type(error).__name__}: {error}")
    return Dataset(
        examples,
        name=name or path.stem,
        source_path=path,
        source_format=fmt,
        load_findings=findings,
    )


def _export_format(path: Path, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    suffix = path.suffix.lower()
    return {
        ".csv": "csv",
        ".tsv": "tsv",
        ".tab": "tsv",
        ".parquet": "parquet",
        ".pq": "parquet",
    }.get(suffix, "hf" if suffix == "" else "jsonl")


def _converted(dataset: Dataset, convert, fmt: str, allow_loss: bool) -> list[dict]:
    out = []
    for index, example in enumerate(dataset.examples):
        if example.is_broken:
            problem = f"it is not a readable conversation ({example.parse_error})"
            converted = None
        else:
            converted, problem = convert(example.record)
        if converted is None:
            if allow_loss:
                continue
            raise CannotExport(
                f"Example {index + 1} cannot be written as {fmt}: {problem}. Export as JSONL "
                "(which holds everything), fix the example, or allow leaving such examples out."
            )
        out.append(converted)
    return out


def check_export_target(path: str | os.PathLike, fmt: str = "auto", overwrite: bool = True) -> str:
    """Refuse an output path that would lose files (OutputPathError), before any work is
    done; return the format that will be written there."""
    path = Path(path)
    fmt = _export_format(path, fmt)
    prepare = prepare_output_folder if fmt == "hf" else prepare_output_file
    prepare(path, overwrite=True)  # first a link loop or a folder/file mix-up, named as such
    # project.sqlite, a run's run.json, a dataset version: replacing one loses what the
    # project records (even with --overwrite); only the project's exports/ takes outputs.
    refuse_project_data(path)
    prepare(path, overwrite)
    return fmt


def export_dataset(
    dataset: Dataset,
    path: str | os.PathLike,
    fmt: str = "auto",
    allow_loss: bool = False,
    studio_fields: bool = False,
    overwrite: bool = True,
) -> int:
    """Write the dataset in `fmt` (atomically); return how many examples were written.

    jsonl holds everything (studio_fields=True also keeps tags and review marks);
    alpaca and tables hold single exchanges; sharegpt holds no tool calls.
    overwrite=False refuses an existing file (OutputPathError). An existing folder (hf)
    is replaced only when we wrote it (core.output_folder's marker) and overwrite is set.
    """
    path = Path(path)
    fmt = check_export_target(path, fmt, overwrite)
    if fmt == "jsonl":
        write_jsonl(path, dataset, studio_fields=studio_fields)
        return len(dataset)
    if fmt in ("alpaca", "sharegpt"):
        convert = record_to_alpaca if fmt == "alpaca" else record_to_sharegpt
        records = _converted(dataset, convert, fmt, allow_loss)
        with atomic_open(path, "w") as handle:
            if path.suffix.lower() == ".jsonl":
                for record in records:
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                json.dump(records, handle, ensure_ascii=False, indent=2)
                handle.write("\n")
        return len(records)
    if fmt in ("csv", "tsv"):
        rows = _converted(dataset, record_to_row, fmt, allow_loss)
        columns = list(dict.fromkeys(key for row in rows for key in row)) or [
            "system",
            "prompt",
            "response",
        ]
        with atomic_open(path, "w", newline="") as handle:  # csv writes its own line ends
            writer = csv.writer(
                handle, delimiter="," if fmt == "csv" else "\t", lineterminator="\r\n"
            )
            # No cell, header included, may start a spreadsheet formula (see escape_cell).
            writer.writerow([escape_cell(column) for column in columns])
            for row in rows:
                writer.writerow([escape_cell(row.get(column, "")) for column in columns])
        return len(rows)
    if fmt in ("parquet", "hf"):
        records = _converted(dataset, lambda record: (record, None), fmt, allow_loss)
        try:
            if fmt == "parquet":
                # pyarrow is heavy: loaded for Parquet files only
                import pyarrow as pa

                # pyarrow is heavy: loaded for Parquet files only
                import pyarrow.parquet as pq

                table = pa.Table.from_pylist(records)
                with atomic_open(path, "wb", encoding=None) as handle:
                    pq.write_table(table, handle)
            else:
                _save_hf(records, path, overwrite)
        except (TypeError, ValueError) as error:  # pyarrow: one field with mixed types
            raise CannotExport(
                f"{fmt} needs every field to have one type across examples ({error}). "
                "Export as JSONL, which holds any mix."
            ) from error
        return len(records)
    raise ValueError(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")


def _save_hf(records: list[dict], path: Path, overwrite: bool) -> None:
    """save_to_disk into a temporary folder beside `path`, then rename it into place.

    The folder gets our marker, so a later --overwrite may replace it; a folder without
    the marker (the user's) is never renamed or removed.
    """
    # datasets is heavy: loaded when data is tokenized
    import datasets

    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        try:
            datasets.Dataset.from_list(records).save_to_disk(str(staging / "data"))
            write_marker(staging / "data", "dataset")
        except OSError as error:  # e.g. a full disk: name the folder the user asked for
            raise OSError(error.errno, error.strerror or str(error), str(path)) from error
        prepare_output_folder(path, overwrite)  # again: the folder may have changed meanwhile
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            os.replace(path, old)
            os.replace(staging / "data", path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging / "data", path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
