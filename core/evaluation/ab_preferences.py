"""Blind A/B ratings as preference pairs for DPO: the answer the raters preferred is
chosen, the other rejected. Ties (and split votes) teach no preference and are skipped,
and counted, so the Dataset page can say how many pairs the ratings gave.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.dataset.preferences import PreferencePair, answer
from core.evaluation.ab_pairs import blind_pairs, get_pair_set, revealed_sides
from core.evaluation.ab_results import FIRST, TIE, majority_picks


@dataclass(frozen=True)
class RatedPairs:
    pairs: list[PreferencePair]
    ties: int  # rated pairs whose majority was a tie: skipped
    unrated: int  # pairs nobody rated yet: skipped


def preference_pairs_from_ratings(project, pair_set_id: int) -> RatedPairs:
    """A preference pair for every A/B pair the humans decided (majority pick)."""
    pair_set = get_pair_set(project, pair_set_id)
    picks = majority_picks(project, pair_set_id)
    sides = revealed_sides(project, pair_set_id)
    pairs, ties, unrated = [], 0, 0
    for blind in blind_pairs(project, pair_set_id):
        outcome = picks.get(blind.id)
        if outcome is None:
            unrated += 1
            continue
        if outcome == TIE:
            ties += 1
            continue
        shown_a, _shown_b = sides[blind.id]
        by_run = {
            shown_a: blind.answer_a,
            (pair_set.run_b_id if shown_a == pair_set.run_a_id else pair_set.run_a_id): (
                blind.answer_b
            ),
        }
        first, second = by_run[pair_set.run_a_id], by_run[pair_set.run_b_id]
        chosen, rejected = (first, second) if outcome == FIRST else (second, first)
        pairs.append(
            PreferencePair(
                tuple(dict(m) for m in blind.prompt),
                answer(chosen),
                answer(rejected),
                source=f"A/B {pair_set.name} pair {blind.position + 1}",
            )
        )
    return RatedPairs(pairs, ties, unrated)
