"""Two or more runs side by side: settings diff, dataset-version diff, eval results with
significance, and the loss figures; what the Compare view and `runs compare` show."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.dataset.versions import diff_versions, load_version
from core.history.config_text import ConfigDiff, diff_configs
from core.history.evals import EvalComparison, compare_run_evals
from core.history.summaries import resolve_run
from core.runs.record import RunInfo

SHOWN_IDS = 20  # example ids listed per kind of change; the rest are counted


@dataclass(frozen=True)
class DatasetDiff:
    """What changed in the data from one run's dataset version to another's."""

    from_label: str
    to_label: str
    added: int = 0
    removed: int = 0
    changed: int = 0
    unchanged: int = 0
    added_ids: tuple[str, ...] = ()
    removed_ids: tuple[str, ...] = ()
    changed_ids: tuple[str, ...] = ()
    problem: str = ""  # why there is no diff

    @property
    def same(self) -> bool:
        return not self.problem and not (self.added or self.removed or self.changed)

    @property
    def summary(self) -> str:
        if self.problem:
            return self.problem
        if self.same:
            return "the same examples"
        return (
            f"{self.added} added, {self.removed} removed, {self.changed} changed, "
            f"{self.unchanged} unchanged"
        )

    def as_dict(self) -> dict:
        return {
            "from": self.from_label,
            "to": self.to_label,
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "added_ids": list(self.added_ids),
            "removed_ids": list(self.removed_ids),
            "changed_ids": list(self.changed_ids),
            "summary": self.summary,
        }


def diff_dataset_versions(
    project, from_id: int | None, to_id: int | None, from_label: str = "", to_label: str = ""
) -> DatasetDiff:
    """core.dataset's diff of two saved versions (by database id)."""
    if from_id is None or to_id is None:
        return DatasetDiff(
            from_label,
            to_label,
            problem="trained on files, not on a saved dataset version: no diff",
        )
    if from_id == to_id:
        return DatasetDiff(from_label, to_label)
    try:
        diff = diff_versions(load_version(project, from_id), load_version(project, to_id))
    except Exception as error:  # a removed or unreadable version: say so, keep comparing
        return DatasetDiff(from_label, to_label, problem=f"cannot diff: {error}")
    return DatasetDiff(
        from_label,
        to_label,
        len(diff.added),
        len(diff.removed),
        len(diff.changed),
        diff.unchanged,
        tuple(diff.added[:SHOWN_IDS]),
        tuple(diff.removed[:SHOWN_IDS]),
        tuple(diff.changed[:SHOWN_IDS]),
    )


def dataset_diffs(project, runs: list[RunInfo]) -> list[DatasetDiff]:
    """The first run's data against each other run's (each distinct pair once)."""
    if len(runs) < 2:
        return []
    first = runs[0]
    seen = set()
    out = []
    for other in runs[1:]:
        key = (first.dataset_version_id, other.dataset_version_id)
        if key in seen and None not in key:
            continue
        seen.add(key)
        out.append(
            diff_dataset_versions(
                project,
                first.dataset_version_id,
                other.dataset_version_id,
                first.dataset_label,
                other.dataset_label,
            )
        )
    return out


@dataclass
class RunComparison:
    runs: list[RunInfo]
    config: ConfigDiff
    datasets: list[DatasetDiff] = field(default_factory=list)
    evals: EvalComparison | None = None

    def as_dict(self) -> dict:
        keys = (
            "run_id",
            "name",
            "status",
            "method",
            "base_model",
            "dataset",
            "key_settings",
            "best_val_loss",
            "final_val_loss",
            "final_train_loss",
            "gpu_hours",
            "cost",
            "estimated_cost",
            "peak_memory_bytes",
            "estimated_peak_bytes",
            "eval_summary",
        )
        return {
            "runs": [{k: s.as_dict()[k] for k in keys} for s in self.runs],
            "config": self.config.as_dict(),
            "datasets": [d.as_dict() for d in self.datasets],
            "evals": self.evals.as_dict() if self.evals else None,
        }


def compare_summaries(
    project, runs: list[RunInfo], with_datasets: bool = True, with_evals: bool = True
) -> RunComparison:
    if len(runs) < 2:
        raise ValueError("Choose two or more runs to compare.")
    config = diff_configs([r.config_yaml for r in runs], [r.name for r in runs])
    comparison = RunComparison(runs, config)
    if with_datasets:
        comparison.datasets = dataset_diffs(project, runs)
    if with_evals:
        comparison.evals = compare_run_evals(
            project, [r.run_id for r in runs], {r.run_id: r.name for r in runs}
        )
    return comparison


def compare_runs(project, ids_or_names: list[str], **options) -> RunComparison:
    """Compare runs named by id or name (the first is the reference)."""
    return compare_summaries(project, [resolve_run(project, x) for x in ids_or_names], **options)
