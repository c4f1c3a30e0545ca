"""Preference data as dataset versions: the same versions store, folders and database rows
as chat data, with kind "preference" in version.json, so runs link to them the same way.

train.jsonl and valid.jsonl hold TRL conversational preference pairs (what DPOTrainer
reads); a saved version is immutable, and editing its pairs saves the next version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from core.dataset.findings import Finding, has_errors
from core.dataset.model import dump_json_bytes
from core.dataset.preferences import (
    PreferencePair,
    read_preference_file,
    validate_pairs,
    write_preference_file,
)
from core.dataset.split import SplitConfig, split_indices
from core.dataset.versions import (
    PREFERENCE_KIND,
    TRAIN_FILE,
    VALID_FILE,
    DatasetHasErrors,
    DatasetVersion,
    list_versions,
    load_version,
    new_version_folder,
    publish_version_folder,
)
from core.project.events import VERSION_SAVED, announce


@dataclass(frozen=True)
class _Keyed:
    """What split_indices ranks by: a stable id per pair (its content), no tags."""

    id: str
    tags: tuple = ()


def pair_id(pair: PreferencePair) -> str:
    return hashlib.sha256(dump_json_bytes(pair.record())).hexdigest()[:16]


def save_preference_version(
    project,
    name: str,
    pairs: list[PreferencePair],
    note: str = "",
    split: SplitConfig | None = None,
) -> DatasetVersion:
    """Save `pairs` as the next version of the preference dataset `name`. Raises
    DatasetHasErrors (nothing saved) when a pair is empty or identical on both sides."""
    split = split or SplitConfig()
    errors = [f for f in validate_pairs(pairs) if f.is_error]
    if not pairs:
        errors.append(Finding("error", "preference_empty", "There are no preference pairs."))
    if errors:
        raise DatasetHasErrors(errors)
    train_idx, valid_idx = split_indices([_Keyed(pair_id(p)) for p in pairs], split)
    with new_version_folder(project, name) as incoming:
        write_preference_file(incoming / TRAIN_FILE, [pairs[i] for i in train_idx])
        write_preference_file(incoming / VALID_FILE, [pairs[i] for i in valid_idx])
        version_id, _number = publish_version_folder(
            project,
            name,
            incoming,
            note,
            len(train_idx),
            len(valid_idx),
            split,
            kind=PREFERENCE_KIND,
        )
    announce(project, VERSION_SAVED, version_id)
    return load_version(project, version_id)


# Pairs made in Chat (a corrected answer over the model's own) wait here until the Dataset
# page's Preference pairs tab takes them into a list that is saved as a version.
PENDING_FILE = "preference-drafts.jsonl"


def pending_path(project):
    return project.datasets_dir / PENDING_FILE


def add_pending_pairs(project, pairs: list[PreferencePair]) -> int:
    """Keep `pairs` for the Dataset page; the number now waiting."""
    waiting = pending_pairs(project) + list(pairs)
    project.datasets_dir.mkdir(parents=True, exist_ok=True)
    write_preference_file(pending_path(project), waiting)
    return len(waiting)


def pending_pairs(project) -> list[PreferencePair]:
    path = pending_path(project)
    return read_preference_file(path).pairs if path.is_file() else []


def take_pending_pairs(project) -> list[PreferencePair]:
    """The waiting pairs, no longer waiting."""
    pairs = pending_pairs(project)
    pending_path(project).unlink(missing_ok=True)
    return pairs


def preference_versions(project) -> list[DatasetVersion]:
    """Every saved preference version, oldest first."""
    return list_versions(project, kind=PREFERENCE_KIND)


def load_preference_pairs(
    version: DatasetVersion,
) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """(training pairs, validation pairs) of a preference version."""
    train = read_preference_file(version.train_path)
    valid = read_preference_file(version.valid_path)
    if has_errors(train.findings) or has_errors(valid.findings):
        first = next(f for f in (*train.findings, *valid.findings) if f.is_error)
        raise ValueError(f"{version.dataset} {version.label}: {first.as_line()}")
    return train.pairs, valid.pairs


def version_summary(version: DatasetVersion) -> dict:
    """A version as the Dataset page and `--json` list it."""
    return {**version.as_dict(), "kind": version.kind}
