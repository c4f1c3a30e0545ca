"""Scoring sample answers with a reward spec before training: what each reward gives,
so a user sees the rewards agree with their idea of a good answer (and that the model's
answers differ in reward, which GRPO needs) before spending a run on them."""

from __future__ import annotations

from dataclasses import dataclass

from core.rewards.limits import answer_text
from core.rewards.spec import RewardSpec


@dataclass(frozen=True)
class ScoredAnswer:
    prompt: str
    answer: str
    reference: str | None
    scores: dict[str, float]  # reward name -> score before weighting
    total: float  # weighted sum


@dataclass(frozen=True)
class Preview:
    names: tuple[str, ...]
    answers: tuple[ScoredAnswer, ...]

    def means(self) -> dict[str, float]:
        n = max(1, len(self.answers))
        return {name: sum(a.scores[name] for a in self.answers) / n for name in self.names}

    def spread(self) -> float:
        """The spread (max - min) of the totals: 0 means every answer scored the same and
        GRPO would have nothing to learn from."""
        totals = [a.total for a in self.answers]
        return max(totals) - min(totals) if totals else 0.0

    def summary(self) -> str:
        means = ", ".join(f"{name} {value:.2f}" for name, value in self.means().items())
        n = len(self.answers)
        return f"{n} answer{'s' if n != 1 else ''}; mean {means}; total spread {self.spread():.2f}"


def score_answers(spec: RewardSpec, samples: list[tuple[str, str, str | None]]) -> Preview:
    """Each (prompt, answer, reference) scored by every reward of the spec."""
    scored = []
    for prompt, answer, reference in samples:
        text = answer_text(answer)
        scores = {t.name: t.score(text, reference) for t in spec.terms}
        total = sum(t.weight * scores[t.name] for t in spec.terms)
        scored.append(ScoredAnswer(prompt, text, reference, scores, total))
    return Preview(tuple(t.name for t in spec.terms), tuple(scored))
