"""The project's spend settings: budget, GPU-hours budget, its own price per hour and the
expert's hourly rate, kept in the runs_settings table.

Apart from core.history.spend because the run summaries read the project's price while the
spend totals are built from those summaries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

BUDGET_KEY = "budget"
GPU_HOURS_BUDGET_KEY = "budget_gpu_hours"
PRICE_KEY = "price_per_hour"
EXPERT_RATE_KEY = "expert_hourly_rate"
SETTING_KEYS = (BUDGET_KEY, GPU_HOURS_BUDGET_KEY, PRICE_KEY, EXPERT_RATE_KEY)


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
