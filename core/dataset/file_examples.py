"""A JSONL file's examples read from the file when asked, for checking files bigger than memory.

`data validate` looks at each example once and keeps small features of it; holding every
example as an object as well cost about 6x the file's size in memory. FileExamples keeps
two numbers per line (where it starts and ends) and parses a line when it is iterated or
indexed, so memory follows what validation keeps, not the file.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from core.dataset.findings import Finding
from core.dataset.jsonl import parse_jsonl_line
from core.dataset.model import Example
from core.dataset.progress import IsCancelled, Progress, check

_UTF8_BOM = b"\xef\xbb\xbf"
_PROGRESS_EVERY = 20_000


class FileExamples(Sequence[Example]):
    """The non-blank lines of a UTF-8 JSONL file as Examples, parsed on access."""

    def __init__(self, path: Path, starts: np.ndarray, ends: np.ndarray, lines: np.ndarray):
        self.path = Path(path)
        self._starts, self._ends, self._lines = starts, ends, lines

    @classmethod
    def scan(
        cls,
        path: str | os.PathLike,
        progress: Progress | None = None,
        cancelled: IsCancelled | None = None,
    ) -> tuple[FileExamples, list[Finding]]:
        """One pass over the file: where each example is, and the findings of broken lines
        (the same ones reading the whole file gives)."""
        path = Path(path)
        file = str(path)
        total = max(path.stat().st_size, 1)
        # array('q'): 8 bytes a number while scanning (a list of ints costs 36).
        starts, ends, lines = array("q"), array("q"), array("q")
        findings: list[Finding] = []
        offset = 0
        with open(path, "rb") as handle:
            for index, raw in enumerate(handle):
                start, offset = offset, offset + len(raw)
                if index == 0 and raw.startswith(_UTF8_BOM):
                    raw, start = raw[len(_UTF8_BOM) :], start + len(_UTF8_BOM)
                body = raw.rstrip(b"\r\n")
                if not body.strip():
                    continue
                _, finding = parse_jsonl_line(body, index + 1, file)
                if finding is not None:
                    findings.append(finding)
                starts.append(start)
                ends.append(start + len(body))
                lines.append(index + 1)
                if index % _PROGRESS_EVERY == 0 and index:
                    check(cancelled)
                    if progress is not None:
                        progress(offset / total, f"Read {index:,} lines")
        as_numpy = lambda values: np.frombuffer(values, dtype=np.int64)
        return cls(path, as_numpy(starts), as_numpy(ends), as_numpy(lines)), findings

    def __len__(self) -> int:
        return len(self._starts)

    def _example(self, fd: int, i: int) -> Example:
        start, end = int(self._starts[i]), int(self._ends[i])
        raw = os.pread(fd, end - start, start)
        example, _ = parse_jsonl_line(raw, int(self._lines[i]), str(self.path))
        return example

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            return self._example(fd, index)
        finally:
            os.close(fd)

    def __iter__(self) -> Iterator[Example]:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for i in range(len(self)):
                yield self._example(fd, i)
        finally:
            os.close(fd)

    def index_of_line(self, line: int) -> int | None:
        """The example read from file line `line` (1-based), or None."""
        i = int(np.searchsorted(self._lines, line))
        return i if i < len(self._lines) and int(self._lines[i]) == line else None
