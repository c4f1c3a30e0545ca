"""Read and write JSONL in the OpenAI fine-tuning format (one `{"messages": [...]}` per line).

Reading never loses a line: a line that is not valid JSON becomes a broken example
(kept, shown, written back as it was) plus an error finding with its line number.
Writing is atomic, and an unedited example is written back byte for byte.
"""

from __future__ import annotations

import codecs
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path

from core.atomic_file import atomic_open
from core.dataset.findings import ERROR, Finding
from core.dataset.model import Dataset, Example, dump_json_bytes
from core.dataset.progress import IsCancelled, Progress, check

_UTF8_BOM = codecs.BOM_UTF8
# Longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
_OTHER_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
_PROGRESS_EVERY = 20_000


def decode_file_bytes(data: bytes, file: str | None) -> tuple[bytes, list[Finding]]:
    """Strip a byte-order mark and turn UTF-16/32 into UTF-8, reporting both as errors.

    The data is kept either way: saving from FineTune Studio writes plain UTF-8, which
    is the fix.
    """
    if data.startswith(_UTF8_BOM):
        return data[len(_UTF8_BOM) :], [
            Finding(
                ERROR,
                "bom",
                "The file starts with a byte-order mark (BOM), which many training tools reject.",
                fix="Save the file from FineTune Studio (it writes UTF-8 without a BOM).",
                file=file,
                line=1,
                fixable=True,
            )
        ]
    for bom, codec, label in _OTHER_BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(codec)
            except UnicodeDecodeError as error:
                return data, [
                    Finding(
                        ERROR,
                        "bad_encoding",
                        f"The file says it is {label} but is not valid {label}: {error.reason}.",
                        fix="Re-export it from its source as UTF-8.",
                        file=file,
                        line=1,
                    )
                ]
            return text.encode("utf-8", errors="surrogatepass"), [
                Finding(
                    ERROR,
                    "bad_encoding",
                    f"The file is {label}-encoded; training tools expect UTF-8.",
                    fix="Save the file from FineTune Studio (it writes UTF-8).",
                    file=file,
                    line=1,
                    fixable=True,
                )
            ]
    return data, []


def parse_jsonl_line(
    raw: bytes, line_number: int, file: str | None
) -> tuple[Example, Finding | None]:
    """One line to an example; a line that is not JSON is kept as a broken example."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return Example.broken(raw, line_number, "not UTF-8"), Finding(
            ERROR,
            "bad_encoding",
            f"Line {line_number} is not valid UTF-8 (byte {error.start + 1}: "
            f"{raw[error.start : error.start + 1]!r}).",
            fix="Re-save the file as UTF-8, or retype the damaged characters.",
            file=file,
            line=line_number,
        )
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        return Example.broken(raw, line_number, error.msg), Finding(
            ERROR,
            "invalid_json",
            f"Line {line_number} is not valid JSON: {error.msg} at column {error.colno}.",
            fix="Fix the line in the editor (a missing quote, comma or brace is typical), "
            "or delete it.",
            file=file,
            line=line_number,
        )
    except RecursionError:
        return Example.broken(raw, line_number, "nested too deeply"), Finding(
            ERROR,
            "invalid_json",
            f"Line {line_number} is nested too deeply to read.",
            fix="Delete the line; a conversation is a list of flat messages.",
            file=file,
            line=line_number,
        )
    example = Example.from_line(raw, record, line_number)
    if example.is_broken:
        return example, Finding(
            ERROR,
            "not_an_object",
            f"Line {line_number}: {example.parse_error}.",
            fix='Each line must be one object: {"messages": [...]}.',
            file=file,
            line=line_number,
        )
    return example, None


def parse_jsonl_lines(
    lines: Iterable[bytes],
    file: str | None = None,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
    total_bytes: int | None = None,
) -> tuple[list[Example], list[Finding]]:
    """Lines (with or without their newline) to examples, with findings for broken ones.

    A UTF-8 byte-order mark on the first line is stripped and reported.
    """
    examples: list[Example] = []
    findings: list[Finding] = []
    seen = 0
    for index, raw in enumerate(lines):
        seen += len(raw)
        if index == 0 and raw.startswith(_UTF8_BOM):
            raw = raw[len(_UTF8_BOM) :]
            findings += decode_file_bytes(_UTF8_BOM, file)[1]
        raw = raw.rstrip(b"\r\n")
        if not raw.strip():
            continue  # a blank line holds no data
        example, finding = parse_jsonl_line(raw, index + 1, file)
        examples.append(example)
        if finding is not None:
            findings.append(finding)
        if index % _PROGRESS_EVERY == 0 and index:
            check(cancelled)
            if progress is not None:
                fraction = seen / total_bytes if total_bytes else 0.0
                progress(fraction, f"Read {index:,} lines")
    return examples, findings


def parse_jsonl_bytes(
    data: bytes,
    file: str | None = None,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> tuple[list[Example], list[Finding]]:
    """Every line of JSONL data to examples, with findings for the ones that are broken."""
    data, findings = decode_file_bytes(data, file)
    examples, more = parse_jsonl_lines(
        io.BytesIO(data), file, progress, cancelled, total_bytes=len(data)
    )
    return examples, findings + more


def read_jsonl(
    path: str | os.PathLike,
    name: str | None = None,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> Dataset:
    """Read a JSONL file of conversations. Raises OSError only when the file cannot be read.

    The file is read a line at a time, so memory holds the examples and never a second
    copy of the whole file.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        head = handle.read(4)
        if any(head.startswith(bom) for bom, _, _ in _OTHER_BOMS):
            examples, findings = parse_jsonl_bytes(
                head + handle.read(), str(path), progress, cancelled
            )
        else:
            handle.seek(0)
            examples, findings = parse_jsonl_lines(
                handle,
                str(path),
                progress,
                cancelled,
                total_bytes=os.fstat(handle.fileno()).st_size,
            )
    return Dataset(
        examples,
        name=name or path.stem,
        source_path=path,
        source_format="jsonl",
        load_findings=findings,
    )


def jsonl_bytes(examples: Iterable[Example], studio_fields: bool = True) -> bytes:
    """The JSONL text of examples (each line ends with a newline)."""
    return b"".join(example.to_json_bytes(studio_fields) + b"\n" for example in examples)


def write_jsonl(
    path: str | os.PathLike,
    examples: Iterable[Example] | Dataset,
    studio_fields: bool = True,
) -> None:
    """Write examples atomically: a crash leaves the old file or the new one, never half.

    studio_fields=False writes plain OpenAI-format records (no tags, ids or review marks).
    """
    if isinstance(examples, Dataset):
        examples = examples.examples
    with atomic_open(path, "wb", encoding=None) as handle:
        chunk: list[bytes] = []
        for example in examples:
            chunk.append(example.to_json_bytes(studio_fields))
            chunk.append(b"\n")
            if len(chunk) >= 4096:
                handle.write(b"".join(chunk))
                chunk.clear()
        handle.write(b"".join(chunk))


def write_records_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> None:
    """Write plain records (e.g. training files) atomically, one per line."""
    with atomic_open(path, "wb", encoding=None) as handle:
        for record in records:
            handle.write(dump_json_bytes(record) + b"\n")
