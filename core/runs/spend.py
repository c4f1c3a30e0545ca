"""The project's spend: GPU hours and their cost against the user's budget, and the expert
hours spent on data, which the guide says is usually the larger cost.

Settings and expert hours live in the runs_settings and runs_expert_hours tables.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field, fields

BUDGET_KEY = "budget"
GPU_HOURS_BUDGET_KEY = "budget_gpu_hours"
PRICE_KEY = "price_per_hour"
EXPERT_RATE_KEY = "expert_hourly_rate"
SETTING_KEYS = (BUDGET_KEY, GPU_HOURS_BUDGET_KEY, PRICE_KEY, EXPERT_RATE_KEY)
# The guide's figures: 10-20 runs during development, and data preparation
# (80-160 expert hours for 2,000 examples) as the single largest cost.
PLANNED_RUNS = (10, 20)


class SpendInputError(ValueError):
    """A budget, price or hours entry that cannot be stored; `field` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class SpendSettings:
    budget: float | None = field(
        default=None,
        metadata={
            "help": "What the project may spend on compute (GPU hours x price). Empty: no budget."
        },
    )
    budget_gpu_hours: float | None = field(
        default=None,
        metadata={"help": "How many GPU hours the project may use. Empty: no limit."},
    )
    price_per_hour: float | None = field(
        default=None,
        metadata={
            "help": "Price of one hour of training for runs whose GPU has no price in the GPU "
            "catalog (and for CPU runs). Runs on catalog GPUs use the catalog's price; change "
            "it on the Estimate page."
        },
    )
    expert_hourly_rate: float | None = field(
        default=None,
        metadata={
            "help": "What an hour of expert work on the data costs (the default for new entries)."
        },
    )

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SpendInputError(item.name, f"must be a number, not {value!r}")
            if not math.isfinite(value) or value < 0:
                raise SpendInputError(item.name, f"must be 0 or more, not {value!r}")


def _number(text: str | None) -> float | None:
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return None


def load_settings(project) -> SpendSettings:
    rows = project.connection().execute(
        f"SELECT key, value FROM runs_settings WHERE key IN ({', '.join('?' for _ in SETTING_KEYS)})",
        SETTING_KEYS,
    )
    stored = {row[0]: _number(row[1]) for row in rows}
    return SpendSettings(
        budget=stored.get(BUDGET_KEY),
        budget_gpu_hours=stored.get(GPU_HOURS_BUDGET_KEY),
        price_per_hour=stored.get(PRICE_KEY),
        expert_hourly_rate=stored.get(EXPERT_RATE_KEY),
    )


def save_settings(project, settings: SpendSettings) -> None:
    values = {
        BUDGET_KEY: settings.budget,
        GPU_HOURS_BUDGET_KEY: settings.budget_gpu_hours,
        PRICE_KEY: settings.price_per_hour,
        EXPERT_RATE_KEY: settings.expert_hourly_rate,
    }
    with project.transaction() as conn:
        for key, value in values.items():
            if value is None:
                conn.execute("DELETE FROM runs_settings WHERE key = ?", (key,))
            else:
                conn.execute(
                    "INSERT INTO runs_settings(key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, repr(float(value))),
                )


def project_price(project) -> float | None:
    """The project's own price per hour (for hardware without a catalog price)."""
    return load_settings(project).price_per_hour


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
    from core.project.store import utc_now

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
            f"{self.runs} run(s) so far; plan for {low}-{high} during development and 3-5 "
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
    """Totals over every run (`summaries` from core.runs.summaries.load_summaries, if loaded)."""
    if summaries is None:
        from core.runs.summaries import load_summaries

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
    )
