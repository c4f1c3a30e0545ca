"""The project's spend: GPU hours and their cost against the user's budget, and the expert
hours spent on data, which the guide says is usually the larger cost.

Expert hours live in the runs_expert_hours table; the settings are core.history.spend_settings.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass

from core.figures import count_text
from core.history.spend_settings import SpendInputError, load_settings
from core.history.summaries import load_summaries
from core.project.store import utc_now

# The guide's figures: 10-20 runs during development, and data preparation
# (80-160 expert hours for 2,000 examples) as the single largest cost.
PLANNED_RUNS = (10, 20)


# --- expert hours -----------------------------------------------------------------------


@dataclass(frozen=True)
class ExpertHours:
    id: int
    worked_on: str  # ISO date
    hours: float
    hourly_rate: float
    dataset_version_id: int | None
    activity: str
    recorded_at: str

    @property
    def cost(self) -> float:
        return self.hours * self.hourly_rate


def record_expert_hours(
    project,
    hours: float,
    hourly_rate: float | None = None,
    activity: str = "",
    worked_on: str | None = None,
    dataset_version_id: int | None = None,
) -> ExpertHours:
    """Record time an expert spent writing or reviewing data; the rate defaults to the
    project's expert rate (0 when none is set)."""
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not math.isfinite(hours):
        raise SpendInputError("hours", f"must be a number, not {hours!r}")
    if hours <= 0:
        raise SpendInputError("hours", "must be more than 0")
    if hours > 24 * 366:
        raise SpendInputError("hours", f"{hours:g} hours is more than a year; check the entry")
    if hourly_rate is None:
        hourly_rate = load_settings(project).expert_hourly_rate or 0.0
    if not math.isfinite(hourly_rate) or hourly_rate < 0:
        raise SpendInputError("hourly_rate", f"must be 0 or more, not {hourly_rate!r}")
    day = worked_on or _dt.date.today().isoformat()
    try:
        _dt.date.fromisoformat(day)
    except ValueError:
        raise SpendInputError("worked_on", f"{day!r} is not a date like 2025-03-14") from None
    with project.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO runs_expert_hours (worked_on, hours, hourly_rate, dataset_version_id, "
            "activity, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                day,
                float(hours),
                float(hourly_rate),
                dataset_version_id,
                activity.strip(),
                utc_now(),
            ),
        )
        entry_id = cursor.lastrowid
    return next(e for e in list_expert_hours(project) if e.id == entry_id)


def list_expert_hours(project) -> list[ExpertHours]:
    rows = project.connection().execute(
        "SELECT id, worked_on, hours, hourly_rate, dataset_version_id, activity, recorded_at "
        "FROM runs_expert_hours ORDER BY worked_on DESC, id DESC"
    )
    return [ExpertHours(*row) for row in rows]


def delete_expert_hours(project, entry_id: int) -> None:
    with project.transaction() as conn:
        conn.execute("DELETE FROM runs_expert_hours WHERE id = ?", (entry_id,))


# --- the summary ------------------------------------------------------------------------


@dataclass(frozen=True)
class SpendSummary:
    runs: int
    gpu_hours: float  # every run's training hours (CPU runs included)
    compute_cost: float  # of the runs whose price is known
    unpriced_hours: float  # hours of runs with no known price (not in compute_cost)
    budget: float | None
    budget_gpu_hours: float | None
    expert_hours: float
    expert_cost: float
    # What the hours were spent on: "GPU hours", "CPU hours", or "compute hours" for both.
    hours_label: str = "GPU hours"

    @property
    def total_cost(self) -> float:
        return self.compute_cost + self.expert_cost

    @property
    def budget_left(self) -> float | None:
        return None if self.budget is None else self.budget - self.compute_cost

    @property
    def budget_used(self) -> float | None:
        """Share of the budget spent (may pass 1.0); None without a budget."""
        if self.budget is None:
            return None
        return self.compute_cost / self.budget if self.budget > 0 else math.inf

    @property
    def gpu_hours_used(self) -> float | None:
        if self.budget_gpu_hours is None:
            return None
        return self.gpu_hours / self.budget_gpu_hours if self.budget_gpu_hours > 0 else math.inf

    @property
    def data_share(self) -> float | None:
        """Share of the known spend that went into data work."""
        return self.expert_cost / self.total_cost if self.total_cost > 0 else None

    def advice(self) -> str:
        """One sentence on where the money went, in the guide's terms."""
        if self.budget is not None and self.compute_cost > self.budget:
            return (
                f"Over budget by {self.compute_cost - self.budget:,.2f}. Before the next run, "
                "improve the data from error analysis rather than trying more settings."
            )
        if self.expert_hours == 0:
            return (
                "Record the hours experts spend writing and reviewing data: it is usually the "
                "largest cost of a fine-tuning project (80-160 hours for 2,000 examples)."
            )
        share = self.data_share
        if share is not None and share >= 0.5:
            return f"Data work is {share:.0%} of the spend so far, as the guide expects."
        low, high = PLANNED_RUNS
        return (
            f"{count_text(self.runs, 'run')} so far; plan for {low}-{high} during development and 3-5 "
            "iterations of the data."
        )

    def as_dict(self) -> dict:
        return {
            "runs": self.runs,
            "gpu_hours": self.gpu_hours,
            "compute_cost": self.compute_cost,
            "unpriced_hours": self.unpriced_hours,
            "budget": self.budget,
            "budget_left": self.budget_left,
            "budget_used": self.budget_used,
            "budget_gpu_hours": self.budget_gpu_hours,
            "expert_hours": self.expert_hours,
            "expert_cost": self.expert_cost,
            "total_cost": self.total_cost,
            "data_share": self.data_share,
            "advice": self.advice(),
        }


def spend_summary(project, summaries=None) -> SpendSummary:
    """Totals over every run (`summaries` from core.history.summaries.load_summaries, if loaded)."""
    if summaries is None:
        summaries = load_summaries(project)
    settings = load_settings(project)
    hours = sum(s.hours for s in summaries)
    costs = [s.cost for s in summaries]
    compute = sum(c for c in costs if c is not None)
    unpriced = sum(s.hours for s, c in zip(summaries, costs) if c is None)
    entries = list_expert_hours(project)
    return SpendSummary(
        runs=len(summaries),
        gpu_hours=hours,
        compute_cost=compute,
        unpriced_hours=unpriced,
        budget=settings.budget,
        budget_gpu_hours=settings.budget_gpu_hours,
        expert_hours=sum(e.hours for e in entries),
        expert_cost=sum(e.cost for e in entries),
        hours_label=hours_label(summaries),
    )


def hours_label(summaries) -> str:
    """A CPU run's hours are not GPU hours: name what the runs used."""
    kinds = {s.on_gpu for s in summaries}
    if not kinds or kinds == {True, False}:
        return "compute hours"  # no run yet, or both kinds
    if kinds == {False}:
        return "CPU hours"
    return "GPU hours"
