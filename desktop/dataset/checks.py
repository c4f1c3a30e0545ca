"""Findings for the editor: the core validation over a snapshot, and the quick per-example checks.

The whole-dataset validation (duplicates, formatting consistency, lengths, ...) runs in
the background; the checks one example has on its own (structure, whitespace) are cheap
and run at once, so a fixed mistake leaves the list as the user types.
"""

from __future__ import annotations

from core.dataset.findings import Finding
from core.dataset.model import Dataset
from core.dataset.progress import Cancelled, IsCancelled, Progress
from core.dataset.validation import check_example, validate_dataset


def example_findings(dataset: Dataset, index: int) -> list[Finding]:
    """The findings example `index` has on its own."""
    return check_example(dataset, index)


def validate_snapshot(
    dataset: Dataset,
    options=None,
    project=None,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> list[Finding]:
    """Every finding for the dataset (run in a background task on a snapshot); None if cancelled."""
    try:
        report = validate_dataset(
            dataset, options, project=project, progress=progress, cancelled=cancelled
        )
    except Cancelled:
        return None
    return list(report.findings)
