"""The evaluation results of each run, and several runs' results side by side with significance.

Results are the evaluation feature's (core.evaluation): a result belongs to a training
run when its `training_run` is the run's id (the run folder's name, as the Evaluate
page records it). A comparison uses one eval-set version that every chosen run was
measured on, with the base-model baseline as the reference when it was measured too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from core.evaluation.metrics import METRIC_TITLES, compare
from core.evaluation.store import load_result

# What the table shows of a result, in order: metrics key and short title.
SUMMARY_METRICS = (("format_compliance", "format"), ("accuracy", "accuracy"), ("perplexity", "ppl"))
RATE_METRICS = ("format_compliance", "accuracy", "refusal_rate", "truncated_rate")


@dataclass(frozen=True)
class EvalLink:
    """One stored evaluation result: which set it was measured on and its metrics."""

    id: int
    eval_set_id: int
    eval_set_name: str
    label: str
    kind: str  # base, adapter, full
    training_run: str | None
    created_at: str
    metrics: dict


def _rows(project, where: str = "", params: tuple = ()) -> list:
    # Only task eval sets: the regression probes measure general capability, and their
    # scores shown as "the run's evaluation" would be a wrong number in the runs table.
    task_only = "s.purpose = 'task'"
    where = f"{where} AND {task_only}" if where else f"WHERE {task_only}"
    sql = (
        "SELECT r.id, r.eval_set_id, s.name, r.label, r.kind, r.training_run, r.created_at, "
        "r.metrics_json FROM evaluation_runs r JOIN evaluation_sets s ON s.id = r.eval_set_id "
        f"{where} ORDER BY r.id"
    )
    return project.connection().execute(sql, params).fetchall()


def _link(row) -> EvalLink:
    try:
        metrics = json.loads(row[7])
    except (TypeError, ValueError):
        metrics = {}
    return EvalLink(row[0], row[1], row[2], row[3], row[4], row[5], row[6], metrics)


def evals_by_run(project) -> dict[str, list[EvalLink]]:
    """run_id -> its results, oldest first."""
    found: dict[str, list[EvalLink]] = {}
    for row in _rows(project, "WHERE r.training_run IS NOT NULL"):
        found.setdefault(row[5], []).append(_link(row))
    return found


def baselines(project) -> list[EvalLink]:
    """Results of base models (the prompted baseline), oldest first."""
    return [_link(row) for row in _rows(project, "WHERE r.kind = 'base'")]


def format_metric(key: str, value) -> str:
    if value is None:
        return "—"
    if key in RATE_METRICS:
        return f"{value:.0%}"
    if key == "perplexity":
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def summary_text(link: EvalLink | None) -> str:
    """'format 92%, accuracy 80%, ppl 3.10' for the table (measured metrics only)."""
    if link is None:
        return ""
    parts = [
        f"{title} {format_metric(key, link.metrics.get(key))}"
        for key, title in SUMMARY_METRICS
        if link.metrics.get(key) is not None
    ]
    return ", ".join(parts) or "evaluated (no automatic checks)"


@dataclass(frozen=True)
class VersusReference:
    delta: float | None
    p_value: float | None
    verdict: str
    test: str


@dataclass(frozen=True)
class MetricRow:
    key: str
    title: str
    values: tuple  # one per column
    versus: tuple  # one per column: VersusReference, or None for the reference itself


@dataclass
class EvalComparison:
    """The chosen runs' results on one eval set, against a reference column."""

    eval_set_name: str = ""
    eval_set_id: int | None = None
    columns: list[str] = field(default_factory=list)  # model labels; the reference first
    column_runs: list[str | None] = field(default_factory=list)  # run ids (None: baseline)
    rows: list[MetricRow] = field(default_factory=list)
    problem: str = ""  # why there is nothing to compare

    @property
    def reference(self) -> str:
        return self.columns[0] if self.columns else ""

    def as_dict(self) -> dict:
        return {
            "eval_set": self.eval_set_name,
            "eval_set_id": self.eval_set_id,
            "columns": self.columns,
            "column_runs": self.column_runs,
            "reference": self.reference,
            "problem": self.problem,
            "rows": [
                {
                    "metric": row.key,
                    "title": row.title,
                    "values": list(row.values),
                    "versus_reference": [
                        None
                        if v is None
                        else {
                            "delta": v.delta,
                            "p_value": v.p_value,
                            "verdict": v.verdict,
                            "test": v.test,
                        }
                        for v in row.versus
                    ],
                }
                for row in self.rows
            ],
        }


def _common_eval_set(links_per_run: list[list[EvalLink]]) -> int | None:
    """The most recently used eval set that every run has a result on."""
    sets = [{link.eval_set_id for link in links} for links in links_per_run]
    common = set.intersection(*sets) if sets else set()
    if not common:
        return None
    latest = {}
    for links in links_per_run:
        for link in links:
            if link.eval_set_id in common:
                latest[link.eval_set_id] = max(latest.get(link.eval_set_id, 0), link.id)
    return max(common, key=lambda set_id: latest[set_id])


def compare_run_evals(
    project, run_ids: list[str], names: dict[str, str] | None = None
) -> EvalComparison:
    """Each run's latest result on a shared eval set, with B-vs-reference significance from
    core.evaluation (McNemar for pass/fail, paired bootstrap for scores)."""
    names = names or {}
    by_run = evals_by_run(project)
    links = [by_run.get(run_id, []) for run_id in run_ids]
    missing = [names.get(r, r) for r, found in zip(run_ids, links) if not found]
    if missing:
        return EvalComparison(problem=f"Not evaluated yet: {', '.join(missing)}.")
    set_id = _common_eval_set(links)
    if set_id is None:
        return EvalComparison(
            problem="These runs were evaluated on different eval sets; evaluate them on the "
            "same set to compare them."
        )
    chosen = [
        max((x for x in found if x.eval_set_id == set_id), key=lambda x: x.id) for found in links
    ]
    base = [b for b in baselines(project) if b.eval_set_id == set_id]
    columns = [names.get(r, r) for r in run_ids]
    column_runs: list[str | None] = list(run_ids)
    result_ids = [link.id for link in chosen]
    if base:
        columns.insert(0, f"baseline: {base[-1].label}")
        column_runs.insert(0, None)
        result_ids.insert(0, base[-1].id)
    results = [load_result(project, result_id) for result_id in result_ids]
    reference = results[0]
    comparisons = [None] + [compare(reference, other) for other in results[1:]]
    rows = []
    for key, (title, _higher) in METRIC_TITLES.items():
        values = tuple(result.metrics().as_dict().get(key) for result in results)
        versus = []
        for versus_list in comparisons:
            if versus_list is None:
                versus.append(None)
                continue
            match = next((c for c in versus_list if c.metric == key), None)
            versus.append(
                None
                if match is None
                else VersusReference(match.delta, match.p_value, match.verdict, match.test)
            )
        rows.append(MetricRow(key, title, values, tuple(versus)))
    return EvalComparison(chosen[0].eval_set_name, set_id, columns, column_runs, rows)
