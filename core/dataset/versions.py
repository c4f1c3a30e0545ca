"""Immutable dataset versions (v1, v2, ...) saved into a project, and diffs between them.

A version is a folder under `project.datasets_dir/<dataset>/v<N>/` holding
`train.jsonl` and `valid.jsonl` (OpenAI messages format: what training reads),
`examples.jsonl` (every example with its id, tags, review marks and split) and
`version.json`, plus a row in `dataset_versions`. Its files are made read-only, and
its content hash covers exactly the training and validation files, so a training run
that records the version records what it saw.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from core.atomic_file import atomic_open, write_text_atomic
from core.dataset.findings import Finding
from core.dataset.jsonl import read_jsonl
from core.dataset.model import STUDIO_KEY, Dataset, Example, dump_json_bytes
from core.dataset.progress import IsCancelled, Progress, check
from core.dataset.split import SplitConfig, split_indices
from core.dataset.validation.structure import check_record
from core.figures import count_text
from core.project.events import VERSION_SAVED, announce
from core.project.store import utc_now

TRAIN_FILE, VALID_FILE, EXAMPLES_FILE, MANIFEST_FILE = (
    "train.jsonl",
    "valid.jsonl",
    "examples.jsonl",
    "version.json",
)
SPLIT_KEY = "split"
# What a version's train.jsonl holds: conversations (chat) or preference pairs (preference,
# core.dataset.preferences). Recorded in version.json; versions from before say nothing.
CHAT_KIND, PREFERENCE_KIND = "chat", "preference"


class DatasetHasErrors(Exception):
    """The dataset has errors that would break training; it was not saved as a version."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        shown = "\n".join(f"  - {f.message}" for f in findings[:5])
        more = f"\n  ... and {len(findings) - 5} more" if len(findings) > 5 else ""
        super().__init__(
            f"{count_text(len(findings), 'error')} must be fixed before this dataset can be saved as a "
            f"version:\n{shown}{more}"
        )


class VersionNotFound(LookupError):
    pass


@dataclass(frozen=True)
class DatasetVersion:
    """One saved version. `train_path`/`valid_path` are what a training run reads."""

    id: int
    dataset: str
    number: int
    note: str
    content_hash: str
    created_at: str
    folder: Path
    n_train: int
    n_valid: int
    split: SplitConfig = field(default_factory=SplitConfig)

    @property
    def label(self) -> str:
        return f"v{self.number}"

    @property
    def train_path(self) -> Path:
        return self.folder / TRAIN_FILE

    @property
    def valid_path(self) -> Path:
        return self.folder / VALID_FILE

    @property
    def examples_path(self) -> Path:
        return self.folder / EXAMPLES_FILE

    @property
    def kind(self) -> str:
        """chat or preference, from the version's manifest."""
        try:
            manifest = json.loads((self.folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return CHAT_KIND
        return str(manifest.get("kind", CHAT_KIND))

    @property
    def n_examples(self) -> int:
        return self.n_train + self.n_valid

    def load_dataset(self) -> Dataset:
        """Every example of the version in dataset order, with its id, tags and review marks."""
        dataset = read_jsonl(self.examples_path, name=self.dataset)
        dataset.source_path = None  # editing a version makes a new one; never write here
        return dataset

    def load_split(self) -> tuple[Dataset, Dataset]:
        """(training examples, validation examples) as datasets with metadata."""
        everything = self.load_dataset()
        splits = _stored_splits(self.examples_path)
        train = [e for e, side in zip(everything.examples, splits) if side != "valid"]
        valid = [e for e, side in zip(everything.examples, splits) if side == "valid"]
        return (
            Dataset(train, name=f"{self.dataset} {self.label} train"),
            Dataset(valid, name=f"{self.dataset} {self.label} valid"),
        )

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "label": self.label,
            "dataset": self.dataset,
            "number": self.number,
            "note": self.note,
            "content_hash": self.content_hash,
            "created_at": self.created_at,
            "train_path": str(self.train_path),
            "valid_path": str(self.valid_path),
            "n_train": self.n_train,
            "n_valid": self.n_valid,
            "split": self.split.as_dict(),
        }


def _stored_splits(path: Path) -> list[str]:
    sides = []
    with open(path, "rb") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            try:
                studio = json.loads(raw).get("finetune_studio", {})
            except (ValueError, AttributeError):
                studio = {}
            sides.append(studio.get(SPLIT_KEY, "train") if isinstance(studio, dict) else "train")
    return sides


def dataset_slug(name: str) -> str:
    """A folder name for a dataset name."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return slug[:60] or "dataset"


def structural_errors(dataset: Dataset) -> list[Finding]:
    """The findings that make a dataset untrainable (checked before saving a version).

    Examples without a stored id get their content-derived one on the way (one parse).
    """
    file = str(dataset.source_path) if dataset.source_path else None
    errors: list[Finding] = []
    for index, example in enumerate(dataset.examples):
        if example.is_broken:
            errors.append(
                Finding(
                    "error",
                    "invalid_json",
                    f"Example {index + 1}"
                    + (f" (line {example.line})" if example.line else "")
                    + f" is not a readable conversation: {example.parse_error}.",
                    fix="Fix or delete it.",
                    file=file,
                    line=example.line,
                    example=index,
                )
            )
            continue
        record = example.parsed_record()
        errors += [f for f in check_record(record, index, example.line, file, None) if f.is_error]
        if isinstance(record, dict):
            example.ensure_id(record)
    return errors


def _write_version_files(folder: Path, examples: list[Example], valid: set[int], cancelled) -> None:
    """train.jsonl, valid.jsonl and examples.jsonl in one pass (each example parsed once)."""
    with contextlib.ExitStack() as stack:
        train_file = stack.enter_context(atomic_open(folder / TRAIN_FILE, "wb", encoding=None))
        valid_file = stack.enter_context(atomic_open(folder / VALID_FILE, "wb", encoding=None))
        all_file = stack.enter_context(atomic_open(folder / EXAMPLES_FILE, "wb", encoding=None))
        for index, example in enumerate(examples):
            if index % 5000 == 0:
                check(cancelled)
            parsed = example.parsed_record()
            record = {k: v for k, v in parsed.items() if k != STUDIO_KEY}
            training = {"messages": record.get("messages", [])}
            if "tools" in record:
                training["tools"] = record["tools"]
            side = "valid" if index in valid else "train"
            (valid_file if side == "valid" else train_file).write(dump_json_bytes(training) + b"\n")
            studio = example.studio_fields()
            studio[SPLIT_KEY] = side
            record[STUDIO_KEY] = studio
            all_file.write(dump_json_bytes(record) + b"\n")


def _hash_files(train: Path, valid: Path) -> str:
    digest = hashlib.sha256()
    for path in (train, valid):
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def _make_read_only(folder: Path) -> None:
    for path in folder.iterdir():
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _row_to_version(project, row) -> DatasetVersion:
    return DatasetVersion(
        id=row["id"],
        dataset=row["dataset"],
        number=row["number"],
        note=row["note"],
        content_hash=row["content_hash"],
        created_at=row["created_at"],
        folder=project.folder / row["folder"],
        n_train=row["n_train"],
        n_valid=row["n_valid"],
        split=SplitConfig.from_dict(json.loads(row["split"])),
    )


def _next_number(conn, dataset: str) -> int:
    row = conn.execute(
        "SELECT COALESCE(MAX(number), 0) + 1 FROM dataset_versions WHERE dataset = ?",
        (dataset,),
    ).fetchone()
    return row[0]


def next_version_label(project, dataset: str) -> str:
    """The label the next saved version of `dataset` will get ("v1" for a new dataset)."""
    return f"v{_next_number(project.connection(), dataset)}"


def save_version(
    project,
    dataset: Dataset,
    note: str = "",
    split: SplitConfig | None = None,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> DatasetVersion:
    """Save `dataset` into the project as its next immutable version.

    Raises DatasetHasErrors (nothing saved) if any example would break training.
    Examples keep their ids; exact duplicates get distinct ones first.
    """
    split = split or SplitConfig()
    errors = structural_errors(dataset)
    if errors:
        raise DatasetHasErrors(errors)
    check(cancelled)
    dataset.ensure_unique_ids()
    train_idx, valid_idx = split_indices(dataset.examples, split)
    if progress:
        progress(0.2, "Writing training and validation files")
    name = dataset.name or "dataset"
    with new_version_folder(project, name) as incoming:
        _write_version_files(incoming, dataset.examples, set(valid_idx), cancelled)
        if progress:
            progress(0.8, "Recording the version")
        check(cancelled)
        version_id, number = publish_version_folder(
            project, name, incoming, note, len(train_idx), len(valid_idx), split
        )
    if progress:
        progress(1.0, f"Saved {name} v{number}")
    announce(project, VERSION_SAVED, version_id)
    return load_version(project, version_id)


@contextlib.contextmanager
def new_version_folder(project, name: str):
    """A scratch folder beside the dataset's versions, removed unless it was published."""
    parent = project.datasets_dir / dataset_slug(name)
    parent.mkdir(parents=True, exist_ok=True)
    incoming = parent / f".incoming-{uuid.uuid4().hex[:8]}"
    incoming.mkdir()
    try:
        yield incoming
    finally:
        if incoming.exists():
            shutil.rmtree(incoming, ignore_errors=True)


def publish_version_folder(
    project,
    name: str,
    incoming: Path,
    note: str,
    n_train: int,
    n_valid: int,
    split: SplitConfig,
    kind: str = CHAT_KIND,
) -> tuple[int, int]:
    """Make `incoming` (holding train.jsonl and valid.jsonl) the next version of `name`:
    its manifest, its database row, read-only files. Returns (version id, number)."""
    content_hash = _hash_files(incoming / TRAIN_FILE, incoming / VALID_FILE)
    created_at = utc_now()
    parent = incoming.parent
    with project.transaction() as conn:
        number = _next_number(conn, name)
        final = parent / f"v{number}"
        if final.exists():  # left by a crash between the rename and the commit
            shutil.rmtree(final)
        os.replace(incoming, final)
        manifest = {
            "dataset": name,
            "label": f"v{number}",
            "kind": kind,
            "note": note,
            "content_hash": content_hash,
            "created_at": created_at,
            "n_train": n_train,
            "n_valid": n_valid,
            "split": split.as_dict(),
            "files": {"train": TRAIN_FILE, "valid": VALID_FILE, "examples": EXAMPLES_FILE},
        }
        write_text_atomic(final / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
        try:
            cursor = conn.execute(
                "INSERT INTO dataset_versions (dataset, number, note, content_hash, created_at,"
                " folder, n_train, n_valid, split) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    number,
                    note,
                    content_hash,
                    created_at,
                    str(final.relative_to(project.folder)),
                    n_train,
                    n_valid,
                    json.dumps(split.as_dict()),
                ),
            )
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            raise
        version_id = cursor.lastrowid
    _make_read_only(final)
    return version_id, number


def list_versions(
    project, dataset: str | None = None, kind: str | None = CHAT_KIND
) -> list[DatasetVersion]:
    """Every saved version, oldest first (of one dataset if named). Chat data unless
    `kind` says otherwise (PREFERENCE_KIND, or None for every kind): the pages that open,
    edit or diff examples read conversations."""
    sql = "SELECT * FROM dataset_versions"
    params: tuple = ()
    if dataset is not None:
        sql += " WHERE dataset = ?"
        params = (dataset,)
    rows = project.connection().execute(sql + " ORDER BY id", params).fetchall()
    versions = [_row_to_version(project, row) for row in rows]
    return versions if kind is None else [v for v in versions if v.kind == kind]


def load_version(project, version_id: int) -> DatasetVersion:
    row = (
        project.connection()
        .execute("SELECT * FROM dataset_versions WHERE id = ?", (version_id,))
        .fetchone()
    )
    if row is None:
        raise VersionNotFound(f"No dataset version with id {version_id} in {project.folder}.")
    return _row_to_version(project, row)


def latest_version(project, dataset: str | None = None) -> DatasetVersion | None:
    versions = list_versions(project, dataset)
    return versions[-1] if versions else None


def find_version(project, label: str, dataset: str | None = None) -> DatasetVersion:
    """A version by its label ("v3") within a dataset (the only one if not named)."""
    match = re.fullmatch(r"v?(\d+)", label.strip())
    if not match:
        raise VersionNotFound(f"{label!r} is not a version label like v3.")
    number = int(match.group(1))
    candidates = [v for v in list_versions(project, dataset, kind=None) if v.number == number]
    if len(candidates) != 1:
        raise VersionNotFound(
            f"No single version {label} in {project.folder}"
            + (f" for dataset {dataset!r}." if dataset else "; name the dataset.")
        )
    return candidates[0]


@dataclass
class VersionDiff:
    """Example ids added in b, removed from a, changed between them; unchanged is a count."""

    added: list[str]
    removed: list[str]
    changed: list[str]
    unchanged: int

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.removed)} removed, {len(self.changed)} changed, "
            f"{self.unchanged} unchanged"
        )


def diff_datasets(a: Dataset, b: Dataset) -> VersionDiff:
    """Match examples by id, then unmatched ones by content (a re-import keeps identity)."""
    a_by_id = {e.id: e for e in a.examples}
    b_by_id = {e.id: e for e in b.examples}
    changed, unchanged = [], 0
    for example_id in a_by_id.keys() & b_by_id.keys():
        if a_by_id[example_id].content_hash() == b_by_id[example_id].content_hash():
            unchanged += 1
        else:
            changed.append(example_id)
    only_a = [i for i in a_by_id if i not in b_by_id]
    only_b = [i for i in b_by_id if i not in a_by_id]
    a_hashes: dict[str, list[str]] = {}
    for example_id in only_a:
        a_hashes.setdefault(a_by_id[example_id].content_hash(), []).append(example_id)
    added = []
    for example_id in only_b:
        same = a_hashes.get(b_by_id[example_id].content_hash())
        if same:
            same.pop()
            unchanged += 1
        else:
            added.append(example_id)
    removed = [i for ids in a_hashes.values() for i in ids]
    order_a = {i: n for n, i in enumerate(a_by_id)}
    removed.sort(key=order_a.__getitem__)
    order_b = {i: n for n, i in enumerate(b_by_id)}
    changed.sort(key=order_b.__getitem__)
    return VersionDiff(added=added, removed=removed, changed=changed, unchanged=unchanged)


def diff_versions(a: DatasetVersion, b: DatasetVersion) -> VersionDiff:
    """What changed from version a to version b."""
    return diff_datasets(a.load_dataset(), b.load_dataset())
