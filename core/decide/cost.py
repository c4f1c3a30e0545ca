"""What a project costs in total, not only GPU hours: expert time for data and evaluation, and runs.

The figures come from the guide's cost analysis (core/decide/guide.py); the GPU line uses
its 7B QLoRA figures, since the wizard does not know the model yet (the Estimate page does).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.decide import guide
from core.figures import money_text


@dataclass(frozen=True)
class CostLine:
    label: str
    low_usd: float
    high_usd: float
    detail: str  # how the figure was reached, in plain words


@dataclass(frozen=True)
class ProjectCost:
    lines: tuple[CostLine, ...]
    notes: tuple[str, ...]

    @property
    def low_usd(self) -> float:
        return sum(line.low_usd for line in self.lines)

    @property
    def high_usd(self) -> float:
        return sum(line.high_usd for line in self.lines)


def format_usd_range(low: float, high: float) -> str:
    low_text, high_text = money_text(low, rough=True), money_text(high, rough=True)
    return low_text if low_text == high_text else f"{low_text}-{high_text}"


def _hours_text(low: float, high: float) -> str:
    return f"{low:,.0f}-{high:,.0f} expert hours"


def evaluation_lines(rate_usd: float, iterations: tuple[int, int]) -> tuple[CostLine, ...]:
    """Writing the evaluation set once, then rating outputs blind in each iteration."""
    eval_low, eval_high = guide.EVAL_EXAMPLES
    per_low, per_high = guide.EXPERT_HOURS_PER_EXAMPLE
    build_hours = (eval_low * per_low, eval_high * per_high)
    minutes_low, minutes_high = guide.RATING_MINUTES_PER_EXAMPLE
    rating_hours = (
        eval_low * minutes_low / 60 * iterations[0],
        eval_high * minutes_high / 60 * iterations[1],
    )
    rounds = (
        f"{iterations[0]}-{iterations[1]} rounds" if iterations[0] != iterations[1] else "1 round"
    )
    return (
        CostLine(
            "Evaluation set",
            build_hours[0] * rate_usd,
            build_hours[1] * rate_usd,
            f"{eval_low}-{eval_high} representative test inputs with ideal answers, "
            f"{_hours_text(*build_hours)} at {money_text(rate_usd, rough=True)}/h",
        ),
        CostLine(
            "Expert review of results",
            rating_hours[0] * rate_usd,
            rating_hours[1] * rate_usd,
            f"blind ratings of {eval_low}-{eval_high} outputs, {minutes_low:.0f}-"
            f"{minutes_high:.0f} min each, {rounds}: {_hours_text(*rating_hours)}",
        ),
    )


def fine_tuning_cost(task_kind: str, examples_have: int, rate_usd: float) -> ProjectCost:
    """The whole project: the training data still to write, evaluation, and 10-20 GPU runs."""
    need_low, need_high = guide.EXAMPLES_NEEDED[task_kind]
    to_write = (max(0, need_low - examples_have), max(0, need_high - examples_have))
    per_low, per_high = guide.EXPERT_HOURS_PER_EXAMPLE
    data_hours = (to_write[0] * per_low, to_write[1] * per_high)
    if to_write[1] == 0:
        data_detail = "you already have enough examples; budget review time if they are unreviewed"
    else:
        data_detail = (
            f"{to_write[0]:,}-{to_write[1]:,} more examples at {per_low * 60:.1f}-"
            f"{per_high * 60:.1f} min each (the guide: 2,000 examples take 80-160 hours): "
            f"{_hours_text(*data_hours)} at {money_text(rate_usd, rough=True)}/h"
        )
    runs_low, runs_high = guide.TRAINING_RUNS
    run_low, run_high = guide.COST_PER_RUN_7B_QLORA_USD
    lines = (
        CostLine("Training data", data_hours[0] * rate_usd, data_hours[1] * rate_usd, data_detail),
        *evaluation_lines(rate_usd, guide.ITERATIONS),
        CostLine(
            "GPU time",
            runs_low * run_low,
            runs_high * run_high,
            f"{runs_low}-{runs_high} training runs while you iterate, "
            f"{format_usd_range(run_low, run_high)} each for a 7B model with QLoRA on a rented "
            f"A100 (a 70B model: {format_usd_range(*guide.COST_PER_RUN_70B_QLORA_USD)} a run)",
        ),
    )
    typical_low, typical_high = guide.TYPICAL_PROJECT_TOTAL_USD
    notes = (
        f"Plan {guide.ITERATIONS[0]}-{guide.ITERATIONS[1]} iterations of data, training and "
        "evaluation: the first model always reveals problems in the data.",
        f"The guide's typical total for a production project is "
        f"{format_usd_range(typical_low, typical_high)}; expert time, not the GPU, is usually "
        "the largest part.",
        "Not counted: your engineers' time, and serving the model.",
    )
    return ProjectCost(lines, notes)


def evaluation_only_cost(rate_usd: float, extra_note: str) -> ProjectCost:
    """No training: the cost is measuring the result properly, over a few rounds of changes."""
    return ProjectCost(evaluation_lines(rate_usd, guide.ITERATIONS), (extra_note,))
