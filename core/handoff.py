"""What one page hands to another on the way there, typed so sender and receiver agree.

Pages send them through AppContext.navigate(page, handoff); the receiving page's `receive`
takes the types it knows and ignores the rest. core builds those made from stored data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DecisionForEstimate:
    """Decide -> Estimate: the job fine-tuning was advised for."""

    decision_id: int
    task_kind: str
    examples: int | None
    lora_r: int | None
    keep_broad_capabilities: bool


@dataclass(frozen=True)
class TrainConfigForEstimate:
    """Train -> Estimate: the Train page's settings, as TrainConfig.as_dict()."""

    train_config: dict[str, Any]


@dataclass(frozen=True)
class DraftsForDataset:
    """Evaluate, Chat and the Runs page -> Dataset: draft examples to edit into a new version
    of `base_version_id` (None: the open dataset, or a new one)."""

    base_version_id: int | None
    drafts: list[dict[str, Any]]  # {"messages": [...]} records
    note: str


@dataclass(frozen=True)
class RunForEvaluation:
    """-> Evaluate: compare this run against the baseline."""

    run_id: str


@dataclass(frozen=True)
class SettingsForTrain:
    """Estimate -> Train, and the Runs page's "Train next": settings for the Train page's
    form, by TrainConfig field."""

    settings: dict[str, Any]
    # "Train next": the run whose settings these are (now on new data), shown on arrival
    like_run_id: str | None = None


@dataclass(frozen=True)
class RatingsForPreferences:
    """Evaluate -> Dataset: a rated blind A/B pair set, to become DPO preference pairs."""

    pair_set_id: int
