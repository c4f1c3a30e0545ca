"""What the A/B ratings say, identities revealed: win rates, dimension scores, agreement.

Several raters may rate the same pair; for win rates each pair counts once, with the
raters' majority pick (a split vote counts as a tie), because ratings of the same
pair are not independent. Agreement between raters is Cohen's kappa for each pair
of raters and Fleiss' kappa across all. A judge rates every pair in both orders;
when the two orders disagree, its verdict for that pair is a tie (position bias).
"""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from dataclasses import dataclass

from core.evaluation.ab_pairs import DIMENSIONS, HUMAN, JUDGE, PairSet, get_pair_set
from core.evaluation.statistics import (
    CANNOT_TELL,
    Rate,
    binomial_two_sided_p,
    cohen_kappa,
    describe_kappa,
    fleiss_kappa,
    paired_bootstrap,
    verdict,
    wilson_interval,
)

# Outcomes in identity terms: the pair set's first model ("a"), its second ("b"), or a tie.
FIRST, SECOND, TIE = "a", "b", "tie"


@dataclass(frozen=True)
class WinRates:
    """How often the second model (usually the fine-tuned run) beat the first."""

    n: int
    wins_a: int
    wins_b: int
    ties: int
    share_a: Rate
    share_b: Rate
    share_tie: Rate
    b_win_rate: Rate  # wins of B among decided pairs (ties left out)
    p_value: float  # sign test on wins_a against wins_b
    verdict: str  # for B against A: better / worse / not enough examples to tell

    def as_dict(self) -> dict:
        return {
            "n": self.n,
            "wins_a": self.wins_a,
            "wins_b": self.wins_b,
            "ties": self.ties,
            "share_a": self.share_a.as_dict(),
            "share_b": self.share_b.as_dict(),
            "share_tie": self.share_tie.as_dict(),
            "b_win_rate": self.b_win_rate.as_dict(),
            "p_value": self.p_value,
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class DimensionComparison:
    dimension: str
    mean_a: float | None
    mean_b: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n: int
    verdict: str


@dataclass(frozen=True)
class KappaPair:
    rater_1: str
    rater_2: str
    n: int
    kappa: float | None
    words: str


@dataclass(frozen=True)
class RaterAgreement:
    raters: tuple[str, ...]
    n_items: int  # pairs rated by at least two raters
    percent_agreement: float | None  # share of those pairs where every rater picked alike
    pairwise: tuple[KappaPair, ...]
    fleiss: float | None
    words: str


@dataclass(frozen=True)
class JudgeSummary:
    judge: str
    n_judged: int  # pairs with a readable verdict in both orders
    unreadable: int  # verdicts the judge gave that could not be read
    position_consistency: Rate  # share of pairs where both orders picked the same model
    win_rates: WinRates
    agreement_with_humans_n: int
    agreement_with_humans: float | None
    kappa_with_humans: float | None


@dataclass(frozen=True)
class ABSummary:
    pair_set: PairSet
    human_raters: tuple[str, ...]
    rated_pairs: int
    human: WinRates | None
    per_rater: dict
    dimensions: tuple[DimensionComparison, ...]
    agreement: RaterAgreement | None
    judges: tuple[JudgeSummary, ...]


def win_rates(outcomes: list[str]) -> WinRates:
    """Win, tie and loss shares with Wilson intervals, and a sign test for the verdict."""
    counts = Counter(outcomes)
    n, wins_a, wins_b, ties = len(outcomes), counts[FIRST], counts[SECOND], counts[TIE]

    def share(k: int, total: int) -> Rate:
        low, high = wilson_interval(k, total)
        return Rate(k, total, low, high)

    decided = wins_a + wins_b
    p_value = binomial_two_sided_p(wins_b, decided)
    difference = (wins_b - wins_a) / n if n else 0.0
    return WinRates(
        n,
        wins_a,
        wins_b,
        ties,
        share(wins_a, n),
        share(wins_b, n),
        share(ties, n),
        share(wins_b, decided),
        p_value,
        verdict(difference, p_value, higher_is_better=True) if decided else CANNOT_TELL,
    )


def _majority(labels: list[str]) -> str:
    counts = Counter(labels).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return TIE
    return counts[0][0]


def _ratings(project, pair_set: PairSet, rater_kind: str) -> list[dict]:
    rows = project.connection().execute(
        "SELECT r.pair_id, r.rater, r.presented, r.pick, r.scores_json, p.shown_a_run_id "
        "FROM evaluation_ratings r JOIN evaluation_pairs p ON p.id = r.pair_id "
        "WHERE p.pair_set_id = ? AND r.rater_kind = ? ORDER BY r.pair_id, r.rater",
        (pair_set.id, rater_kind),
    )
    ratings = []
    for row in rows:
        a_shown_first = row["shown_a_run_id"] == pair_set.run_a_id
        side_to_identity = {"A": FIRST, "B": SECOND} if a_shown_first else {"A": SECOND, "B": FIRST}
        outcome = None
        if row["pick"] == "tie":
            outcome = TIE
        elif row["pick"] in side_to_identity:
            outcome = side_to_identity[row["pick"]]
        scores = {
            side_to_identity[side]: values
            for side, values in json.loads(row["scores_json"]).items()
            if side in side_to_identity
        }
        ratings.append(
            {
                "pair_id": row["pair_id"],
                "rater": row["rater"],
                "presented": row["presented"],
                "outcome": outcome,
                "scores": scores,
            }
        )
    return ratings


def _dimension_comparisons(ratings: list[dict]) -> tuple[DimensionComparison, ...]:
    comparisons = []
    for dimension in DIMENSIONS:
        per_pair: dict[int, dict[str, list[int]]] = defaultdict(lambda: {FIRST: [], SECOND: []})
        for rating in ratings:
            for identity in (FIRST, SECOND):
                value = rating["scores"].get(identity, {}).get(dimension)
                if value is not None:
                    per_pair[rating["pair_id"]][identity].append(value)
        rows = [
            (sum(v[FIRST]) / len(v[FIRST]), sum(v[SECOND]) / len(v[SECOND]))
            for v in per_pair.values()
            if v[FIRST] and v[SECOND]
        ]
        if not rows:
            comparisons.append(
                DimensionComparison(dimension, None, None, None, None, None, None, 0, "not rated")
            )
            continue
        result = paired_bootstrap([a for a, _ in rows], [b for _, b in rows])
        comparisons.append(
            DimensionComparison(
                dimension,
                sum(a for a, _ in rows) / len(rows),
                sum(b for _, b in rows) / len(rows),
                result.difference,
                result.low,
                result.high,
                result.p_value,
                len(rows),
                verdict(result.difference, result.p_value, higher_is_better=True),
            )
        )
    return tuple(comparisons)


def rater_agreement(by_pair: dict[int, dict[str, str]]) -> RaterAgreement | None:
    """Agreement among raters; by_pair maps pair id -> {rater: outcome}."""
    names = sorted({rater for picks in by_pair.values() for rater in picks})
    if len(names) < 2:
        return None
    shared = [picks for picks in by_pair.values() if len(picks) >= 2]
    pairwise = []
    for first, second in itertools.combinations(names, 2):
        both = [(p[first], p[second]) for p in by_pair.values() if first in p and second in p]
        kappa = cohen_kappa([x for x, _ in both], [y for _, y in both]) if both else None
        pairwise.append(KappaPair(first, second, len(both), kappa, describe_kappa(kappa)))
    fleiss = fleiss_kappa([list(p.values()) for p in shared])
    unanimous = sum(len(set(p.values())) == 1 for p in shared)
    return RaterAgreement(
        tuple(names),
        len(shared),
        unanimous / len(shared) if shared else None,
        tuple(pairwise),
        fleiss,
        describe_kappa(fleiss),
    )


def _judge_summaries(
    project, pair_set: PairSet, human_majority: dict[int, str]
) -> tuple[JudgeSummary, ...]:
    by_judge: dict[str, dict[int, dict[str, str | None]]] = defaultdict(lambda: defaultdict(dict))
    for rating in _ratings(project, pair_set, JUDGE):
        by_judge[rating["rater"]][rating["pair_id"]][rating["presented"]] = rating["outcome"]
    summaries = []
    for judge, pairs in sorted(by_judge.items()):
        unreadable = sum(o is None for orders in pairs.values() for o in orders.values())
        consensus, consistent = {}, []
        for pair_id, orders in pairs.items():
            outcomes = [orders.get("AB"), orders.get("BA")]
            if None in outcomes:
                continue
            agree = outcomes[0] == outcomes[1]
            consistent.append(agree)
            consensus[pair_id] = outcomes[0] if agree else TIE
        low, high = wilson_interval(sum(consistent), len(consistent))
        with_humans = [(consensus[p], human_majority[p]) for p in consensus if p in human_majority]
        agreement = sum(j == h for j, h in with_humans) / len(with_humans) if with_humans else None
        kappa = (
            cohen_kappa([j for j, _ in with_humans], [h for _, h in with_humans])
            if with_humans
            else None
        )
        summaries.append(
            JudgeSummary(
                judge,
                len(consensus),
                unreadable,
                Rate(sum(consistent), len(consistent), low, high),
                win_rates(list(consensus.values())),
                len(with_humans),
                agreement,
                kappa,
            )
        )
    return tuple(summaries)


def _human_picks(project, pair_set: PairSet):
    """(readable human ratings, pair id -> {rater: outcome}, pair id -> majority outcome)."""
    ratings = [r for r in _ratings(project, pair_set, HUMAN) if r["outcome"] is not None]
    by_pair: dict[int, dict[str, str]] = defaultdict(dict)
    for rating in ratings:
        by_pair[rating["pair_id"]][rating["rater"]] = rating["outcome"]
    majority = {pair_id: _majority(list(picks.values())) for pair_id, picks in by_pair.items()}
    return ratings, by_pair, majority


def majority_picks(project, pair_set_id: int) -> dict[int, str]:
    """pair id -> the human raters' majority outcome ("a", "b" or "tie"), identities
    revealed; pairs nobody rated are absent."""
    return _human_picks(project, get_pair_set(project, pair_set_id))[2]


def ab_summary(project, pair_set_id: int) -> ABSummary:
    """Everything the ratings of one pair set show, with the models named."""
    pair_set = get_pair_set(project, pair_set_id)
    ratings, by_pair, majority = _human_picks(project, pair_set)
    names = sorted({r["rater"] for r in ratings})
    per_rater = {
        name: win_rates([picks[name] for picks in by_pair.values() if name in picks])
        for name in names
    }
    return ABSummary(
        pair_set=pair_set,
        human_raters=tuple(names),
        rated_pairs=len(by_pair),
        human=win_rates(list(majority.values())) if majority else None,
        per_rater=per_rater,
        dimensions=_dimension_comparisons(ratings),
        agreement=rater_agreement(by_pair),
        judges=_judge_summaries(project, pair_set, majority),
    )
