"""One model's answer to one eval-set example, with its scores: what an evaluation produces
per example, and what the metrics are computed from."""

from __future__ import annotations

from dataclasses import dataclass

from core.evaluation.checks import AnswerScore
from core.evaluation.generation import ReferenceLoss


@dataclass(frozen=True)
class ExampleOutput:
    index: int  # the example's index in the eval set
    answer: str
    n_tokens: int
    finished: bool
    score: AnswerScore
    reference_loss: ReferenceLoss | None = None
