"""The iterate loop: baseline, v1, v2, ... each with its data version, run and eval, and
what changed between steps; drafts of new training data from a run's failures; and the
next run with the same settings on the new version.

The guide: the first model is never the last; budget 3-5 iterations, improve the data
from error analysis, and compare.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from core.evaluation.error_analysis import draft_training_example, failing_examples
from core.evaluation.store import load_result
from core.figures import count_text
from core.handoff import DraftsForDataset, SettingsForTrain
from core.history.compare import diff_dataset_versions
from core.history.config_text import DATA_KEYS, diff_configs
from core.history.evals import SUMMARY_METRICS, EvalLink, baselines, format_metric
from core.history.summaries import load_summaries, load_summary
from core.recipe.config import config_from_dict
from core.runs.record import RunInfo, RunState

NAME_SEPARATOR = " · "


class NothingToDraft(ValueError):
    """The run has no evaluation with failing examples to draft from."""


@dataclass(frozen=True)
class VersionInfo:
    id: int
    dataset: str
    number: int
    note: str
    n_examples: int

    @property
    def label(self) -> str:
        return f"{self.dataset} v{self.number}"


@dataclass
class IterationStep:
    index: int
    title: str  # "Baseline", "v1", "tickets v2", "Files"
    kind: str  # "baseline", "version" or "files"
    version: VersionInfo | None = None
    runs: list[RunInfo] = field(default_factory=list)
    chosen: RunInfo | None = None  # the run this step stands for (lowest validation loss)
    eval: EvalLink | None = None
    changes: list[str] = field(default_factory=list)  # against the previous step
    train_like: RunInfo | None = None  # "Train next": the run whose settings to reuse

    @property
    def can_draft(self) -> bool:
        return (
            self.chosen is not None
            and self.eval is not None
            and self.chosen.dataset_version_id is not None
        )

    @property
    def can_train_next(self) -> bool:
        return self.kind == "version" and not self.runs and self.train_like is not None

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "title": self.title,
            "kind": self.kind,
            "version": None
            if self.version is None
            else {
                "id": self.version.id,
                "label": self.version.label,
                "note": self.version.note,
                "examples": self.version.n_examples,
            },
            "runs": [r.run_id for r in self.runs],
            "chosen_run": self.chosen.run_id if self.chosen else None,
            "eval": self.eval.metrics if self.eval else None,
            "changes": self.changes,
            "train_next_like": self.train_like.run_id if self.can_train_next else None,
        }


def _versions(project) -> list[VersionInfo]:
    rows = project.connection().execute(
        "SELECT id, dataset, number, note, n_train + n_valid FROM dataset_versions ORDER BY id"
    )
    return [VersionInfo(*row) for row in rows]


def _best(runs: list[RunInfo]) -> RunInfo | None:
    """The run a step stands for: the finished one with the lowest validation loss, else
    the newest."""
    if not runs:
        return None
    scored = [r for r in runs if r.best_val_loss is not None and r.status == RunState.FINISHED]
    if scored:
        return min(scored, key=lambda r: r.best_val_loss)
    return max(runs, key=lambda r: r.started_at)


def _eval_changes(before: EvalLink | None, after: EvalLink | None) -> list[str]:
    if before is None or after is None or before.eval_set_id != after.eval_set_id:
        return []
    out = []
    for key, title in SUMMARY_METRICS:
        a, b = before.metrics.get(key), after.metrics.get(key)
        if a is None or b is None or a == b:
            continue
        out.append(f"{title} {format_metric(key, a)} → {format_metric(key, b)}")
    return out


def _changes(
    project, previous: IterationStep | None, step: IterationStep, diffs: bool
) -> list[str]:
    if previous is None:
        return []
    out = []
    if diffs and step.version is not None and previous.version is not None:
        diff = diff_dataset_versions(
            project,
            previous.version.id,
            step.version.id,
            previous.version.label,
            step.version.label,
        )
        out.append(f"data: {diff.summary}")
    if previous.chosen is not None and step.chosen is not None:
        config = diff_configs([previous.chosen.config_yaml, step.chosen.config_yaml])
        settings = [d for d in config.differences if d.key not in DATA_KEYS]
        for item in settings[:6]:
            out.append(f"{item.key}: {item.values[0] or '—'} → {item.values[1] or '—'}")
        a, b = previous.chosen.best_val_loss, step.chosen.best_val_loss
        if a is not None and b is not None:
            out.append(f"best validation loss {a:.3f} → {b:.3f} ({b - a:+.3f})")
    out += _eval_changes(previous.eval, step.eval)
    return out


def iteration_timeline(
    project, summaries: list[RunInfo] | None = None, with_dataset_diffs: bool = True
) -> list[IterationStep]:
    """Baseline first, then each dataset version in the order it was saved (of the
    datasets that runs trained on), then runs trained on plain files, if any."""
    summaries = load_summaries(project) if summaries is None else summaries
    base = baselines(project)
    steps = [IterationStep(0, "Baseline", "baseline", eval=base[0] if base else None)]
    versions = _versions(project)
    used = {s.dataset_version_id for s in summaries if s.dataset_version_id is not None}
    datasets = {v.dataset for v in versions if v.id in used} or {v.dataset for v in versions}
    shown = [v for v in versions if v.dataset in datasets]
    several = len(datasets) > 1
    last_chosen: RunInfo | None = None
    for version in shown:
        runs = sorted(
            (s for s in summaries if s.dataset_version_id == version.id),
            key=lambda s: s.started_at,
        )
        chosen = _best(runs)
        step = IterationStep(
            len(steps),
            version.label if several else f"v{version.number}",
            "version",
            version,
            runs,
            chosen,
            chosen.latest_eval if chosen else None,
            train_like=last_chosen,
        )
        steps.append(step)
        last_chosen = chosen or last_chosen
    on_files = [s for s in summaries if s.dataset_version_id is None]
    if on_files:
        chosen = _best(on_files)
        steps.append(
            IterationStep(
                len(steps),
                "Files",
                "files",
                None,
                on_files,
                chosen,
                chosen.latest_eval if chosen else None,
            )
        )
    previous = None
    for step in steps:
        if step.kind == "files":
            continue
        step.changes = _changes(project, previous, step, with_dataset_diffs)
        if step.kind == "baseline" or step.chosen is not None:
            previous = step
    return steps


# --- from failures to drafts ---------------------------------------------------------


@dataclass(frozen=True)
class DraftRequest:
    """New training examples drafted from a run's failing eval examples, for the dataset
    editor to open on a new version of the run's data."""

    run_id: str
    base_version_id: int | None
    drafts: list[dict]  # {"messages": [...]} records
    note: str
    needing_answers: int  # drafts whose answer is a placeholder an expert must write

    def handoff(self) -> DraftsForDataset:
        """What the Dataset page receives."""
        return DraftsForDataset(self.base_version_id, self.drafts, self.note)


def drafts_from_failures(project, run_id: str, limit: int | None = None) -> DraftRequest:
    """Drafts from the failing examples of the run's latest evaluation, made by
    core.evaluation's error analysis (the reference answer, or a placeholder)."""
    run = load_summary(project, run_id)
    link = run.latest_eval
    if link is None:
        raise NothingToDraft(f"{run.name} has not been evaluated yet; evaluate it first.")

    result = load_result(project, link.id)
    failures = failing_examples(result)
    if not failures:
        raise NothingToDraft(
            f"{run.name} failed no checked example of '{result.eval_set.name}'; nothing to draft."
        )
    if limit is not None:
        failures = failures[:limit]
    drafts = [
        draft_training_example(
            example,
            output.answer,
            system_prompt=result.spec.system_prompt,
            eval_set_name=result.eval_set.name,
        )
        for example, output in failures
    ]
    note = (
        f"{count_text(len(drafts), 'example')} drafted from the failures of run '{run.name}' on eval set "
        f"'{result.eval_set.name}'. Reword each prompt so the eval set is not trained on, and "
        "write the ideal answer where a placeholder stands."
    )
    return DraftRequest(
        run.run_id,
        run.dataset_version_id,
        [d.as_record() for d in drafts],
        note,
        sum(d.needs_expert_answer for d in drafts),
    )


# --- the next run -----------------------------------------------------------------------


def train_like_handoff(project, run_id: str, dataset_version_id: int) -> SettingsForTrain:
    """What the Train page receives to train like `run_id` on a new version: the next run's
    settings by TrainConfig field."""
    settings = next_run_config(project, run_id, dataset_version_id).as_dict()
    return SettingsForTrain(
        {**settings, "dataset_version_id": dataset_version_id}, like_run_id=run_id
    )


def next_run_config(project, run_id: str, dataset_version_id: int):
    """The TrainConfig of `run_id` with only the data changed to the given version."""
    run = load_summary(project, run_id)
    config = config_from_dict(yaml.safe_load(run.config_yaml) or {}, f"run {run.run_id}")
    label = next(
        (v.label for v in _versions(project) if v.id == dataset_version_id),
        f"version {dataset_version_id}",
    )
    base_name = run.name.split(NAME_SEPARATOR)[0]
    return config.replace(
        dataset_version=str(dataset_version_id),
        train_file="",
        validation_file="",
        name=f"{base_name}{NAME_SEPARATOR}{label}",
    )
