"""Eval sets, results and answers in the project database, so every number can be traced.

An eval set is stored with its examples, keyed by name and content hash: loading the
same file twice reuses the version, a changed file becomes a new version. A result
is stored with its model, training run, generation settings (seed included) and the
eval-set version it was measured on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from core.evaluation.checks import AnswerScore, CheckResult
from core.evaluation.eval_set import EvalSet, parse_jsonl
from core.evaluation.generation import GenerationConfig, ReferenceLoss
from core.evaluation.models import ModelSpec
from core.evaluation.results import EvalResult, ExampleOutput
from core.project.events import EVALUATION_DELETED, EVALUATION_SAVED, announce
from core.project.store import utc_now

PURPOSES = ("task", "probes")


class UnknownRecordError(LookupError):
    """An eval set, run or pair set id that is not in this project."""


@dataclass(frozen=True)
class StoredEvalSet:
    id: int
    name: str
    source: str
    content_hash: str
    n_examples: int
    purpose: str
    created_at: str


@dataclass(frozen=True)
class StoredRun:
    id: int
    eval_set_id: int
    label: str
    kind: str
    training_run: str | None
    status: str
    created_at: str
    metrics: dict


def save_eval_set(project, eval_set: EvalSet, purpose: str = "task") -> int:
    """Store a version of an eval set (or find the identical one stored before); its id."""
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}")
    content_hash = eval_set.content_hash
    with project.transaction() as conn:
        row = conn.execute(
            "SELECT id FROM evaluation_sets WHERE name = ? AND content_hash = ?",
            (eval_set.name, content_hash),
        ).fetchone()
        if row:
            return row[0]
        cursor = conn.execute(
            "INSERT INTO evaluation_sets(name, source, content_hash, n_examples, examples_jsonl, "
            "purpose, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                eval_set.name,
                eval_set.source,
                content_hash,
                len(eval_set.examples),
                eval_set.to_jsonl(),
                purpose,
                utc_now(),
            ),
        )
        return cursor.lastrowid


def list_eval_sets(project, purpose: str | None = "task") -> list[StoredEvalSet]:
    """Stored eval-set versions, newest first (purpose None: all, probes included)."""
    query = (
        "SELECT id, name, source, content_hash, n_examples, purpose, created_at "
        "FROM evaluation_sets"
    )
    params: tuple = ()
    if purpose is not None:
        query += " WHERE purpose = ?"
        params = (purpose,)
    rows = project.connection().execute(query + " ORDER BY id DESC", params)
    return [StoredEvalSet(*row) for row in rows]


def load_eval_set(project, eval_set_id: int) -> EvalSet:
    row = (
        project.connection()
        .execute(
            "SELECT name, source, examples_jsonl FROM evaluation_sets WHERE id = ?",
            (eval_set_id,),
        )
        .fetchone()
    )
    if row is None:
        raise UnknownRecordError(f"Eval set {eval_set_id} is not in this project.")
    examples = parse_jsonl(row["examples_jsonl"], f"stored eval set {eval_set_id}")
    return EvalSet(row["name"], row["source"], tuple(examples))


def save_result(project, eval_set_id: int, result: EvalResult) -> int:
    """Store one model's result with all its answers in one transaction; the run id."""
    stored = (
        project.connection()
        .execute("SELECT content_hash FROM evaluation_sets WHERE id = ?", (eval_set_id,))
        .fetchone()
    )
    if stored is None:
        raise UnknownRecordError(f"Eval set {eval_set_id} is not in this project.")
    if stored[0] != result.eval_set.content_hash:
        raise ValueError(
            f"The result was measured on eval set version {result.eval_set.content_hash}, "
            f"not on stored eval set {eval_set_id} ({stored[0]})."
        )
    spec = result.spec
    with project.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO evaluation_runs(eval_set_id, label, kind, base_model, adapter, "
            "training_run, system_prompt, spec_json, generation_json, metrics_json, status, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                eval_set_id,
                spec.label,
                spec.kind,
                spec.base_model,
                spec.adapter,
                spec.training_run,
                spec.system_prompt,
                json.dumps(spec.as_dict()),
                json.dumps(result.config.as_dict()),
                json.dumps(result.metrics().as_dict()),
                result.status,
                result.created_at,
            ),
        )
        run_id = cursor.lastrowid
        conn.executemany(
            "INSERT INTO evaluation_outputs(run_id, example_index, answer, n_tokens, finished, "
            "format_ok, correct, refusal, checks_json, nll_sum, nll_tokens) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run_id,
                    o.index,
                    o.answer,
                    o.n_tokens,
                    int(o.finished),
                    None if o.score.format_ok is None else int(o.score.format_ok),
                    None if o.score.correct is None else int(o.score.correct),
                    int(o.score.refusal),
                    json.dumps([c.as_dict() for c in o.score.checks]),
                    None if o.reference_loss is None else o.reference_loss.nll_sum,
                    None if o.reference_loss is None else o.reference_loss.n_tokens,
                )
                for o in result.outputs
            ],
        )
    result.run_id = run_id
    announce(project, EVALUATION_SAVED, run_id)
    return run_id


def _as_bool(value) -> bool | None:
    return None if value is None else bool(value)


def load_result(project, run_id: int) -> EvalResult:
    conn = project.connection()
    run = conn.execute("SELECT * FROM evaluation_runs WHERE id = ?", (run_id,)).fetchone()
    if run is None:
        raise UnknownRecordError(f"Evaluation run {run_id} is not in this project.")
    eval_set = load_eval_set(project, run["eval_set_id"])
    outputs = []
    for row in conn.execute(
        "SELECT * FROM evaluation_outputs WHERE run_id = ? ORDER BY example_index", (run_id,)
    ):
        checks = tuple(CheckResult(**c) for c in json.loads(row["checks_json"]))
        loss = (
            ReferenceLoss(row["nll_sum"], row["nll_tokens"])
            if row["nll_tokens"] is not None
            else None
        )
        outputs.append(
            ExampleOutput(
                index=row["example_index"],
                answer=row["answer"],
                n_tokens=row["n_tokens"],
                finished=bool(row["finished"]),
                score=AnswerScore(
                    _as_bool(row["format_ok"]),
                    _as_bool(row["correct"]),
                    bool(row["refusal"]),
                    checks,
                ),
                reference_loss=loss,
            )
        )
    return EvalResult(
        spec=ModelSpec.from_dict(json.loads(run["spec_json"])),
        eval_set=eval_set,
        config=GenerationConfig(**json.loads(run["generation_json"])),
        outputs=outputs,
        created_at=run["created_at"],
        run_id=run_id,
        status=run["status"],
    )


def list_runs(project, eval_set_id: int | None = None) -> list[StoredRun]:
    """Stored results, oldest first (so the baseline, measured first, leads)."""
    query = (
        "SELECT id, eval_set_id, label, kind, training_run, status, created_at, metrics_json "
        "FROM evaluation_runs"
    )
    params: tuple = ()
    if eval_set_id is not None:
        query += " WHERE eval_set_id = ?"
        params = (eval_set_id,)
    rows = project.connection().execute(query + " ORDER BY id", params)
    return [StoredRun(*row[:7], json.loads(row[7])) for row in rows]


def delete_evaluation(project, evaluation_id: int) -> None:
    """Remove one evaluation result, its answers, and the A/B pairs and ratings built on it
    (not a training run: that is core.runs.store.delete_run)."""
    with project.transaction() as conn:
        conn.execute("DELETE FROM evaluation_runs WHERE id = ?", (evaluation_id,))
    announce(project, EVALUATION_DELETED, evaluation_id)
