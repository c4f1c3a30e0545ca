"""The DPO advisor: the margin between chosen and rejected answers stopped growing.

DPO's implicit reward margin rises while the model learns to separate the preferred answers
from the rejected ones. Once it levels off, more steps mostly pull the model away from its
reference (the starting model) for no gain in separation: the time to stop, or to add pairs.
"""

from __future__ import annotations

import math

from core.runs.records import INFO, Advice, MetricRecord


class MarginPlateauAdvisor:
    """Fires once when the mean margin of the last `window` logged steps is no higher than
    that of the window before (within `tolerance`, relative)."""

    def __init__(self, max_steps: int, tolerance: float = 0.02) -> None:
        self.window = max(3, min(20, round(max_steps * 0.1))) if max_steps else 5
        self.tolerance = tolerance
        self.margins: list[tuple[int, float, float | None]] = []
        self.fired = False

    def observe(self, record: MetricRecord) -> list[Advice]:
        margin = record.rewards_margin
        if self.fired or record.kind != "train" or margin is None or not math.isfinite(margin):
            return []
        self.margins.append((record.step, margin, record.rewards_accuracy))
        if len(self.margins) < 2 * self.window:
            return []
        recent = [m for _, m, _ in self.margins[-self.window :]]
        before = [m for _, m, _ in self.margins[-2 * self.window : -self.window]]
        now, earlier = sum(recent) / len(recent), sum(before) / len(before)
        if now > earlier + self.tolerance * max(abs(earlier), 1e-3):
            return []
        self.fired = True
        accuracy = self.margins[-1][2]
        right = f", {accuracy:.0%} of pairs ranked right" if accuracy is not None else ""
        return [
            Advice(
                step=record.step,
                severity=INFO,
                kind="dpo_margin_plateau",
                title="DPO margin stopped growing",
                message=(
                    f"The chosen-over-rejected margin averaged {now:.3f} over the last "
                    f"{self.window} logged steps against {earlier:.3f} before{right}. More "
                    "steps now mostly move the model away from where it started without "
                    "separating the answers further: stop and keep this checkpoint, or add "
                    "preference pairs (a higher beta keeps the model closer to its start)."
                ),
                details={"margin_now": now, "margin_before": earlier, "window": self.window},
            )
        ]
