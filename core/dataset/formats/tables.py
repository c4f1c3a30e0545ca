"""CSV, TSV and Parquet tables: a preview for the column mapping, and rows to examples.

A table row becomes one exchange (optional system, user, assistant) through a
ColumnMapping; a `messages` column (JSON text in CSV, nested lists in Parquet) or
Alpaca's instruction/input/output columns are recognised without one.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from core.dataset.findings import ERROR, Finding
from core.dataset.formats.conversions import (
    ALPACA,
    ColumnMapping,
    alpaca_to_record,
    guess_mapping,
    row_to_record,
)
from core.dataset.jsonl import decode_file_bytes
from core.dataset.model import Example
from core.dataset.progress import IsCancelled, check

csv.field_size_limit(2**31 - 1)  # long replies exceed csv's 128 KiB default

# A spreadsheet runs a cell that begins with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"  # the common rule: a leading apostrophe makes the cell plain text


def escape_cell(value):
    """A text cell as we write it to CSV/TSV: one leading apostrophe before a formula start,
    and before an apostrophe of its own, so unescape_cell gives back exactly `value`."""
    if isinstance(value, str) and value.startswith((*FORMULA_STARTS, ESCAPE)):
        return ESCAPE + value
    return value


def unescape_cell(cell: str) -> str:
    """The inverse of escape_cell. Only an apostrophe before a formula start or another
    apostrophe is ours; "'tis" from another tool is read as it is."""
    if cell.startswith(ESCAPE) and cell[1:2] and cell[1:].startswith((*FORMULA_STARTS, ESCAPE)):
        return cell[1:]
    return cell


def _decode_table_text(data: bytes, file: str) -> tuple[str, list[Finding]]:
    data, findings = decode_file_bytes(data, file)
    try:
        return data.decode("utf-8"), findings
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        findings.append(
            Finding(
                ERROR,
                "bad_encoding",
                f"Line {line} is not valid UTF-8; the damaged bytes were read as U+FFFD.",
                fix="Re-save the file as UTF-8 (spreadsheet apps: 'CSV UTF-8').",
                file=file,
                line=line,
            )
        )
        return data.decode("utf-8", errors="replace"), findings


def read_delimited(
    path: Path, delimiter: str, cancelled: IsCancelled | None = None
) -> tuple[list[str], list[tuple[int, dict]], list[Finding]]:
    """(columns, [(line, row)], findings) of a CSV/TSV file; a broken row is reported, not fatal."""
    text, findings = _decode_table_text(path.read_bytes(), str(path))
    text = text.replace("\x00", "")  # NUL bytes confuse csv on older Pythons and mean nothing
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, dict]] = []
    columns: list[str] | None = None
    line = 1
    while True:
        start = line
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            findings.append(
                Finding(
                    ERROR,
                    "invalid_row",
                    f"Line {start}: the row cannot be read ({error}).",
                    fix="Check the quotes on that line.",
                    file=str(path),
                    line=start,
                )
            )
            line = reader.line_num + 1
            continue
        line = reader.line_num + 1
        cells = [unescape_cell(cell) for cell in cells]
        if columns is None:
            columns = [c.strip() for c in cells]
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            findings.append(
                Finding(
                    ERROR,
                    "invalid_row",
                    f"Line {start} has {len(cells)} cells but the header has {len(columns)}.",
                    fix="Check for a missing delimiter or an unquoted "
                    f"{'tab' if delimiter == chr(9) else 'comma'} in a cell.",
                    file=str(path),
                    line=start,
                )
            )
        rows.append((start, dict(zip(columns, cells))))
        if len(rows) % 20_000 == 0:
            check(cancelled)
    return columns or [], rows, findings


def json_safe(value: Any) -> Any:
    """A value JSON can hold: Arrow's dates, bytes and decimals become text or numbers."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    try:
        return float(value)  # Decimal, numpy scalars
    except (TypeError, ValueError):
        return str(value)


def read_parquet_rows(path: Path) -> tuple[list[str], list[tuple[int | None, dict]]]:
    # pyarrow is heavy: loaded for Parquet files only
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return list(table.column_names), [(None, json_safe(row)) for row in table.to_pylist()]


def rows_to_examples(
    columns: list[str],
    rows: list[tuple[int | None, dict]],
    mapping: ColumnMapping | None,
    file: str,
    findings: list[Finding],
) -> list[Example]:
    """Rows to examples, with the mapping given, recognised, or a finding asking for one."""
    lowered = {c.lower() for c in columns}
    if mapping is None and "messages" in lowered:
        return [_messages_row(row, line, i, file, findings) for i, (line, row) in enumerate(rows)]
    if mapping is None and {"instruction", "output"} <= lowered:
        examples = []
        for line, row in rows:
            record, problem = alpaca_to_record(row)
            examples.append(_example_or_broken(record, problem, row, line, file, findings, ALPACA))
        return examples
    mapping = mapping or guess_mapping(columns)
    if mapping is None:
        findings.append(
            Finding(
                ERROR,
                "column_mapping",
                f"Which columns hold the prompt and the response? Found: {', '.join(columns)}.",
                fix="Choose the prompt and response columns in the import dialog "
                "(CLI: --prompt-column and --response-column).",
                file=file,
            )
        )
        return []
    missing = [c for c in mapping.columns() if c not in columns]
    if missing:
        findings.append(
            Finding(
                ERROR,
                "column_mapping",
                f"The column(s) {', '.join(missing)} are not in the file. "
                f"Found: {', '.join(columns)}.",
                fix="Choose columns that exist.",
                file=file,
            )
        )
        return []
    return [Example.from_record(row_to_record(row, mapping), line=line) for line, row in rows]


def _messages_row(row: dict, line, index: int, file: str, findings: list[Finding]) -> Example:
    key = next(k for k in row if k.lower() == "messages")
    messages: Any = row[key]
    if isinstance(messages, str):
        try:
            messages = json.loads(messages)
        except (ValueError, RecursionError):
            pass
    # Parquet fills a field missing from some rows with null; such nulls were never data.
    record = {
        ("messages" if k == key else k): (messages if k == key else v)
        for k, v in row.items()
        if k == key or v is not None
    }
    if isinstance(record["messages"], list):
        record["messages"] = [
            {k: v for k, v in m.items() if v is not None} if isinstance(m, dict) else m
            for m in record["messages"]
        ]
        return Example.from_record(record, line=line)
    return _example_or_broken(
        None, "the messages cell is not a JSON list of messages", row, line, file, findings, "table"
    )


def _example_or_broken(record, problem, row, line, file, findings, kind) -> Example:
    if record is not None:
        return Example.from_record(record, line=line)
    raw = json.dumps(row, ensure_ascii=False, default=str).encode()
    findings.append(
        Finding(
            ERROR,
            "not_convertible",
            f"{'Line ' + str(line) if line else 'A row'}: cannot read it as {kind}: {problem}.",
            fix="Fix the row in the source file, or edit it here.",
            file=file,
            line=line,
        )
    )
    return Example.broken(raw, line, problem)


def preview_table(path: str | Path, rows: int = 20) -> tuple[list[str], list[dict]]:
    """(columns, first rows) of a CSV/TSV/Parquet file, for the import dialog's mapping."""
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        # pyarrow is heavy: loaded for Parquet files only
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        columns = list(parquet.schema_arrow.names)
        first = next(parquet.iter_batches(batch_size=rows), None)
        return columns, first.to_pylist() if first is not None else []
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    columns, found, _ = read_delimited(path, delimiter)
    return columns, [row for _, row in found[:rows]]
