"""The GRPO advisor: reward hacking, answers collapsing to one, and KL blow-up.

- Reward hacking: the weighted reward climbs while what it stands for does not. Either
  the held-out prompts' reward (eval) stays flat or falls while the training reward
  rises, or the rise comes from no checked reward (format: valid_json, json_schema, keys,
  regex; accuracy: reference_match) but from the others (a length penalty, own code).
  After the run, Evaluate's stored results say the same when the run's evaluation is no
  better than its starting run's (core.history.grpo_evaluation: training cannot import
  evaluation, history sits above both).
- Collapse: the answers within each group stop differing (reward spread ~0 after it was
  not): every answer is the same, GRPO has nothing left to learn from and the model has
  likely converged on one answer for every prompt.
- KL blow-up: the distance from the starting model rises far above where it began and
  past KL_HIGH: the model is being pulled away faster than the KL weight holds it.

Each fires once per run. Fed one MetricRecord at a time, like the other advisors.
"""

from __future__ import annotations

import math
import statistics

from core.runs.records import WARNING, Advice, MetricRecord

# Rewards that check what Evaluate measures (format compliance and accuracy).
CHECKED_KINDS = ("valid_json", "json_schema", "keys", "regex", "match")
KL_HIGH = 0.5  # per token, nats: far past the 0.01-0.1 of a run held near its start
KL_GROWTH = 10.0
RISE = 0.05  # a reward change smaller than this (absolute) is flat
COLLAPSED_SPREAD = 1e-3


def _finite(value) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def _is_checked(name: str) -> bool:
    return any(kind in name for kind in CHECKED_KINDS)


def reward_window(max_steps: int) -> int:
    """How many logged steps are averaged at each end to call a reward risen or flat."""
    return max(2, min(10, round(max_steps * 0.2))) if max_steps else 3


def reward_rise(rewards: list[float], window: int) -> tuple[float, float] | None:
    """(mean reward of the first window, of the last) once there are two windows. Also
    read by core.history.grpo_evaluation, which sets the rise against Evaluate's results."""
    if len(rewards) < 2 * window:
        return None
    return _mean(rewards[:window]), _mean(rewards[-window:])


class RewardAdvisor:
    def __init__(self, max_steps: int) -> None:
        self.window = reward_window(max_steps)
        self.train: list[MetricRecord] = []
        self.evals: list[float] = []
        self.fired: set[str] = set()

    def observe(self, record: MetricRecord) -> list[Advice]:
        if record.kind == "eval":
            if _finite(record.reward):
                self.evals.append(record.reward)
            return self._hacking_eval(record.step)
        if not _finite(record.reward):
            return []
        self.train.append(record)
        return [
            *self._hacking_parts(record.step),
            *self._hacking_eval(record.step),
            *self._collapse(record.step),
            *self._kl(record),
        ]

    def _rise(self) -> tuple[float, float] | None:
        return reward_rise([r.reward for r in self.train], self.window)

    def _once(self, kind: str, advice: Advice) -> list[Advice]:
        if kind in self.fired:
            return []
        self.fired.add(kind)
        return [advice]

    def _hacking_eval(self, step: int) -> list[Advice]:
        rise = self._rise()
        if rise is None or len(self.evals) < 2 or rise[1] - rise[0] < RISE:
            return []
        if self.evals[-1] - self.evals[0] >= RISE / 2:
            return []
        return self._once(
            "reward_hacking",
            Advice(
                step,
                WARNING,
                "reward_hacking",
                "Reward up on training prompts only",
                f"The training reward rose from {rise[0]:.3f} to {rise[1]:.3f} while the "
                f"held-out prompts' reward went from {self.evals[0]:.3f} to "
                f"{self.evals[-1]:.3f}: the model is learning these prompts (or a loophole of "
                "the rewards), not the task. Stop and keep the earlier checkpoint, raise the "
                "KL weight, and check the rewards' preview for answers that score well but "
                "are wrong.",
                action="stop_keep_best",
                action_label="Stop and keep the best checkpoint",
                details={"train_first": rise[0], "train_last": rise[1], "evals": self.evals},
            ),
        )

    def _hacking_parts(self, step: int) -> list[Advice]:
        rise = self._rise()
        if rise is None or rise[1] - rise[0] < RISE:
            return []
        parts = self.train[-1].reward_parts or {}
        checked = [name for name in parts if _is_checked(name)]
        if not checked or len(checked) == len(parts):
            return []

        def part_mean(records, name):
            return _mean(
                [
                    r.reward_parts[name]["mean"]
                    for r in records
                    if r.reward_parts
                    and name in r.reward_parts
                    and _finite(r.reward_parts[name].get("mean"))
                ]
            )

        first, last = self.train[: self.window], self.train[-self.window :]
        changes = {name: part_mean(last, name) - part_mean(first, name) for name in checked}
        if any(change >= RISE / 2 for change in changes.values()):
            return []
        flat = ", ".join(f"{name} {change:+.3f}" for name, change in changes.items())
        return self._once(
            "reward_hacking",
            Advice(
                step,
                WARNING,
                "reward_hacking",
                "Reward up, format and accuracy not",
                f"The reward rose from {rise[0]:.3f} to {rise[1]:.3f}, but the rewards that "
                f"check format and accuracy did not ({flat}): the gain comes from the other "
                "rewards. The model is optimising those (reward hacking). Lower their weight "
                "or stop and keep the best checkpoint.",
                action="stop_keep_best",
                action_label="Stop and keep the best checkpoint",
                details={"changes": changes},
            ),
        )

    def _collapse(self, step: int) -> list[Advice]:
        spreads = [r.reward_std for r in self.train if _finite(r.reward_std)]
        if len(spreads) < 2 * self.window or max(spreads[: -self.window]) <= COLLAPSED_SPREAD:
            return []
        if max(spreads[-self.window :]) > COLLAPSED_SPREAD:
            return []
        return self._once(
            "answers_collapsed",
            Advice(
                step,
                WARNING,
                "answers_collapsed",
                "Answers collapsed to one",
                f"For the last {self.window} logged steps every answer to a prompt scored the "
                "same (reward spread 0, after it was not): the model writes one answer and "
                "GRPO has nothing left to learn from. If the reward is not at its top this is "
                "collapse: raise the temperature or the KL weight and start from the earlier "
                "checkpoint.",
                action="stop_keep_best",
                action_label="Stop and keep the best checkpoint",
            ),
        )

    def _kl(self, record: MetricRecord) -> list[Advice]:
        kls = [r.kl for r in self.train if _finite(r.kl)]
        if len(kls) < 2 * self.window or not _finite(record.kl):
            return []
        start = _mean(kls[: self.window])
        now = _mean(kls[-self.window :])
        if now < KL_HIGH or now < KL_GROWTH * max(start, 1e-3):
            return []
        return self._once(
            "kl_blowup",
            Advice(
                record.step,
                WARNING,
                "kl_blowup",
                "KL from the starting model blew up",
                f"The KL divergence from the starting model rose from {start:.3f} to "
                f"{now:.3f} per token: the model is moving away from where it started much "
                "faster than the KL weight holds it, which usually ends in nonsense answers "
                "that game the rewards. Lower the learning rate or raise the KL weight.",
                action="lower_learning_rate",
                action_label="Lower the learning rate",
                details={"kl_start": start, "kl_now": now},
            ),
        )
