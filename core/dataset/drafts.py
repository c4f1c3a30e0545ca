"""Autosaved drafts: the edits not yet saved as a version, kept on disk every few seconds.

A draft is one JSONL file under `<project>/datasets/.drafts/`, written atomically. Its
first line describes it (dataset, base version, note, time); every other line is an
example, in order: either the whole example (new or edited) or, for an example that is
unchanged since the base version, only a reference to it by id. So a draft of 100,000
examples with a few edits is a small file, cheap to write every few seconds.

Each editing session writes its own file, so a draft that was not restored yet is never
overwritten by the next session. No Qt here: the page calls it from a timer and a thread.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.atomic_file import atomic_open
from core.dataset.jsonl import parse_jsonl_line
from core.dataset.model import Dataset, Example
from core.dataset.versions import DatasetVersion, VersionNotFound, dataset_slug, load_version

DRAFTS_FOLDER = ".drafts"
HEADER_KEY = "finetune_studio_draft"
REF_KEY = "finetune_studio_ref"
DRAFT_FORMAT = 1


class DraftError(Exception):
    """The draft cannot be read (damaged header, or its base version is gone)."""


@dataclass(frozen=True)
class DraftInfo:
    path: Path
    dataset: str
    base_version_id: int | None
    base_label: str | None
    note: str
    saved_at: str
    n_examples: int

    def describe(self) -> str:
        base = f"based on {self.base_label}" if self.base_label else "not saved as a version yet"
        when = self.saved_at[11:16] if len(self.saved_at) >= 16 else self.saved_at
        day = self.saved_at[:10]
        return f"“{self.dataset}”, {self.n_examples:,} examples, {base}, saved {day} at {when}"


def drafts_dir(project) -> Path:
    return project.datasets_dir / DRAFTS_FOLDER


def new_draft_path(project, dataset_name: str) -> Path:
    """A fresh file for one editing session (never one that holds another session's draft)."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return (
        drafts_dir(project) / f"{dataset_slug(dataset_name)}-{stamp}-{uuid.uuid4().hex[:6]}.jsonl"
    )


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def draft_lines(examples: Sequence[Example], base_by_id: Mapping[str, Example]) -> list[bytes]:
    """The example lines of a draft: a reference for each example unchanged since the base."""
    lines = []
    for example in examples:
        if base_by_id and base_by_id.get(example.id) is example:
            lines.append(json.dumps({REF_KEY: example.id}).encode())
        else:
            lines.append(example.to_json_bytes(studio_fields=True))
    return lines


def write_draft(
    path: Path,
    dataset_name: str,
    examples: Sequence[Example],
    base_version: DatasetVersion | None,
    base_by_id: Mapping[str, Example],
    note: str = "",
) -> None:
    """Write the draft atomically (a crash leaves the previous draft, never half of one)."""
    header = {
        HEADER_KEY: {
            "format": DRAFT_FORMAT,
            "dataset": dataset_name,
            "base_version_id": base_version.id if base_version else None,
            "base_label": base_version.label if base_version else None,
            "note": note,
            "saved_at": _now(),
            "n_examples": len(examples),
        }
    }
    lines = draft_lines(examples, base_by_id)
    with atomic_open(path, "wb", encoding=None) as handle:
        handle.write(json.dumps(header, ensure_ascii=False).encode() + b"\n")
        for start in range(0, len(lines), 4096):
            handle.write(b"\n".join(lines[start : start + 4096]) + b"\n")


def read_draft_info(path: Path) -> DraftInfo | None:
    """The header of a draft file, or None when the file is not a readable draft."""
    try:
        with open(path, "rb") as handle:
            header = json.loads(handle.readline()).get(HEADER_KEY)
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(header, dict) or header.get("format") != DRAFT_FORMAT:
        return None
    return DraftInfo(
        path=path,
        dataset=str(header.get("dataset") or "dataset"),
        base_version_id=header.get("base_version_id"),
        base_label=header.get("base_label"),
        note=str(header.get("note") or ""),
        saved_at=str(header.get("saved_at") or ""),
        n_examples=int(header.get("n_examples") or 0),
    )


def list_drafts(project, exclude: Path | None = None) -> list[DraftInfo]:
    """Every draft in the project, newest first (except the one this session is writing)."""
    folder = drafts_dir(project)
    if not folder.is_dir():
        return []
    drafts = []
    for path in folder.glob("*.jsonl"):
        if exclude is not None and path == exclude:
            continue
        info = read_draft_info(path)
        if info is not None:
            drafts.append(info)
    drafts.sort(key=lambda info: (info.saved_at, info.path.name), reverse=True)
    return drafts


def load_draft(
    project, info: DraftInfo
) -> tuple[Dataset, DatasetVersion | None, dict[str, Example]]:
    """The drafted dataset, the version it was based on, and that version's examples by id.

    Keeps every line it can read; a line it cannot becomes a broken example to repair.
    """
    base = None
    base_by_id: dict[str, Example] = {}
    if info.base_version_id is not None:
        try:
            base = load_version(project, info.base_version_id)
            base_by_id = {example.id: example for example in base.load_dataset().examples}
        except (VersionNotFound, OSError) as error:
            raise DraftError(
                f"The draft {info.path.name} is based on a version that cannot be read: {error}"
            ) from error
    examples: list[Example] = []
    findings = []
    with open(info.path, "rb") as handle:
        handle.readline()  # the header
        for line_number, raw in enumerate(handle, start=2):
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                continue
            if raw.startswith(b'{"' + REF_KEY.encode()):
                try:
                    ref = json.loads(raw)[REF_KEY]
                except (ValueError, KeyError, TypeError):
                    ref = None
                if ref is not None and ref in base_by_id:
                    examples.append(base_by_id[ref])
                    continue
            example, finding = parse_jsonl_line(raw, line_number, str(info.path))
            examples.append(example)
            if finding is not None:
                findings.append(finding)
    dataset = Dataset(examples, name=info.dataset, load_findings=findings)
    return dataset, base, base_by_id


def discard_draft(path: Path | None) -> None:
    if path is None:
        return
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
