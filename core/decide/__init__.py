"""Decide: should this project fine-tune at all, and if so with what data and budget?

The guide's decision framework as data (questions.py, recommend.py), the project cost
(cost.py) and the saved answers (store.py). Other features call `load_decision(project)`.
"""

from core.decide.answers import Answers, AnswersError
from core.decide.recommend import OUTCOMES, Recommendation, recommend
from core.decide.store import (
    Decision,
    DecisionDataError,
    decision_history,
    estimate_handoff,
    load_decision,
    save_decision,
)

__all__ = [
    "OUTCOMES",
    "Answers",
    "AnswersError",
    "Decision",
    "DecisionDataError",
    "Recommendation",
    "decision_history",
    "estimate_handoff",
    "load_decision",
    "recommend",
    "save_decision",
]
