"""The demo project's decision: a support team whose measured prompt misses their house style."""

from __future__ import annotations

from core.decide.answers import Answers
from core.decide.store import save_decision
from core.project.store import Project

DEMO_ANSWERS = Answers(
    problems=("format_complex", "knowledge_missing"),
    prompt_engineering="measured",
    base_model="yes",
    expert_examples="200_to_500",
    keep_broad_capabilities=True,
)


def populate(project: Project) -> None:
    save_decision(project, DEMO_ANSWERS)
