"""Saved decisions: each set of wizard answers is kept (history); the latest is the project's.

The recommendation is not stored but recomputed from the answers on load, so improved advice
reaches old projects; the outcome column only labels the history.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.decide import guide
from core.decide.answers import Answers, AnswersError
from core.decide.questions import EXPERT_EXAMPLE_COUNTS
from core.decide.recommend import Recommendation, recommend
from core.handoff import DecisionForEstimate
from core.project.store import Project, utc_now


class DecisionDataError(ValueError):
    """A saved decision cannot be read; the message names the project, the row and the field."""


@dataclass(frozen=True)
class Decision:
    id: int
    saved_at: str
    answers: Answers
    recommendation: Recommendation

    @property
    def task_kind(self) -> str | None:
        """format, domain or reasoning; None when the problems need no fine-tuning data."""
        return self.recommendation.task_kind

    @property
    def examples_needed(self) -> tuple[int, int]:
        """The guide's training-set size for this task kind; (0, 0) when none is needed."""
        if self.task_kind is None:
            return (0, 0)
        return guide.EXAMPLES_NEEDED[self.task_kind]

    @property
    def examples_planned(self) -> int:
        """How many training examples the project will have: what exists, at least the minimum."""
        have_low, _have_high = EXPERT_EXAMPLE_COUNTS[self.answers.expert_examples]
        return max(have_low, self.examples_needed[0])


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    saved_at: str
    outcome: str


def _decision_from_row(project: Project, row) -> Decision:
    try:
        answers = Answers.from_json(row["answers_json"])
    except AnswersError as error:
        raise DecisionDataError(
            f"{project.db_path}: saved decision #{row['id']} cannot be read: {error}. "
            "Answer the Decide questions again to save a new one."
        ) from None
    return Decision(row["id"], row["saved_at"], answers, recommend(answers))


def load_decision(project: Project, decision_id: int | None = None) -> Decision | None:
    """The latest saved decision (or the one with `decision_id`), None if none was saved."""
    conn = project.connection()
    if decision_id is None:
        row = conn.execute(
            "SELECT id, saved_at, answers_json FROM decide_answers ORDER BY id DESC LIMIT 1"
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT id, saved_at, answers_json FROM decide_answers WHERE id = ?", (decision_id,)
        ).fetchone()
    return None if row is None else _decision_from_row(project, row)


def save_decision(project: Project, answers: Answers | dict) -> Decision:
    """Save answers as the project's decision; the same answers as the latest add no new row."""
    if isinstance(answers, dict):
        answers = Answers.from_dict(answers)
    recommendation = recommend(answers)
    text = answers.to_json()
    with project.transaction() as conn:
        latest = conn.execute(
            "SELECT id, saved_at, answers_json FROM decide_answers ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if latest is not None and latest["answers_json"] == text:
            return Decision(latest["id"], latest["saved_at"], answers, recommendation)
        saved_at = utc_now()
        cursor = conn.execute(
            "INSERT INTO decide_answers(saved_at, answers_json, outcome) VALUES (?, ?, ?)",
            (saved_at, text, recommendation.outcome),
        )
        return Decision(cursor.lastrowid, saved_at, answers, recommendation)


def decision_history(project: Project) -> list[HistoryEntry]:
    """Every saved decision, newest first (read without parsing, so one bad row hides nothing)."""
    rows = project.connection().execute(
        "SELECT id, saved_at, outcome FROM decide_answers ORDER BY id DESC"
    )
    return [HistoryEntry(row["id"], row["saved_at"], row["outcome"]) for row in rows]


def estimate_handoff(decision: Decision) -> DecisionForEstimate | None:
    """What the Estimate page receives when fine-tuning is advised; None otherwise."""
    recommendation = decision.recommendation
    if not recommendation.fine_tuning_advised:
        return None
    return DecisionForEstimate(
        decision_id=decision.id,
        task_kind=decision.task_kind,
        examples=decision.examples_planned,
        lora_r=recommendation.preset_lora_r,
        keep_broad_capabilities=decision.answers.keep_broad_capabilities,
    )
