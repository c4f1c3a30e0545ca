"""A GRPO run's outcome in rewards: its loss is a policy-gradient surrogate around 0, so
"best validation loss 0.0000" says nothing; the held-out and training rewards do.

One tally for the live run (the recorder adds each record) and for a replayed one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from core.runs.records import MetricRecord


@dataclass(frozen=True)
class RewardFigures:
    """The best held-out mean reward (and its step), and the last training step's mean."""

    best: float | None = None
    best_step: int | None = None
    last: float | None = None

    def text(self) -> str:
        """ "Best held-out reward 0.812 at step 40. Mean reward 0.790 at the last step." """
        parts = []
        if self.best is not None:
            parts.append(f"Best held-out reward {self.best:.3f} at step {self.best_step}.")
        if self.last is not None:
            parts.append(f"Mean reward {self.last:.3f} at the last step.")
        return " ".join(parts)


class RewardTally:
    """Fed every record of a run; `figures()` is None for a run that reported no reward
    (SFT, DPO)."""

    def __init__(self) -> None:
        self.best: tuple[float, int] | None = None
        self.last: float | None = None
        self.seen = False

    def add(self, record: MetricRecord) -> None:
        reward = record.reward
        if reward is None or not math.isfinite(reward):
            return
        self.seen = True
        if record.kind == "eval":
            if self.best is None or reward > self.best[0]:
                self.best = (reward, record.step)
        else:
            self.last = reward

    def figures(self) -> RewardFigures | None:
        if not self.seen:
            return None
        best, step = self.best if self.best else (None, None)
        return RewardFigures(best=best, best_step=step, last=self.last)


def reward_figures(records: Iterable[MetricRecord]) -> RewardFigures | None:
    """A past run's reward figures from its records (None when it reported no reward)."""
    tally = RewardTally()
    for record in records:
        tally.add(record)
    return tally.figures()
