"""What each of the advisor's suggested actions does: stop the run, and/or change settings
for the next run. Plain Python (no Qt), so the mapping is tested without widgets."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.recipe.config import TrainConfig
from core.runs.records import Advice


@dataclass
class AdviceAction:
    stop_reason: str = ""  # non-empty: stop the live run with this reason
    changes: dict = field(default_factory=dict)  # TrainConfig fields for the next run
    open_page: str = ""  # non-empty: show this page (e.g. "dataset" to add examples)


def action_for(advice: Advice, current: TrainConfig | None) -> AdviceAction:
    details = advice.details or {}
    action = advice.action
    if action == "stop_keep_best":
        best = details.get("best_step", advice.step)
        return AdviceAction(
            stop_reason=f"Stopped at the advisor's suggestion, keeping the best checkpoint "
            f"(step {best})."
        )
    if action in ("lower_learning_rate", "stop"):
        # "stop" comes with a diverged run, which the session has already stopped.
        base = current or TrainConfig()
        suggested = details.get("suggested_learning_rate") or base.effective_learning_rate / 3
        return AdviceAction(
            stop_reason="Stopped to restart with a lower learning rate."
            if action == "lower_learning_rate"
            else "",
            changes={"learning_rate": float(f"{suggested:.2g}")},
        )
    if action == "add_validation":
        return AdviceAction(changes={"validation_fraction": 0.1})
    if action == "evaluate_more_often" and details.get("suggested_eval_every"):
        return AdviceAction(changes={"eval_every_steps": int(details["suggested_eval_every"])})
    if action == "apply_changes":
        # The plan's and the outcome advice's fix: the settings it names, as they are.
        return AdviceAction(changes=dict(details.get("changes") or {}))
    if action == "open_dataset":
        return AdviceAction(open_page="dataset")
    if action == "apply_settings":
        suggestions = details.get("suggestions") or []
        if suggestions:
            return AdviceAction(changes=dict(suggestions[0].get("changes", {})))
    return AdviceAction()
