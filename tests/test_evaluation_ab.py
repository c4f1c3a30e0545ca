"""Blind A/B rating: recorded random order, anonymity, ratings per rater, win rates, agreement."""

import dataclasses

import pytest

from core.evaluation.ab_pairs import (
    BlindPair,
    Rating,
    RatingError,
    blind_pairs,
    create_pair_set,
    delete_rating,
    get_rating,
    list_pair_sets,
    next_unrated_pair,
    rater_names,
    rating_progress,
    record_rating,
    revealed_sides,
)
from core.evaluation.ab_results import ab_summary
from core.evaluation.checks import score_answer
from core.evaluation.eval_set import eval_set_from_examples
from core.evaluation.generation import GenerationConfig
from core.evaluation.models import ModelSpec
from core.evaluation.results import EvalResult, ExampleOutput
from core.evaluation.statistics import BETTER, CANNOT_TELL
from core.evaluation.store import save_eval_set, save_result

N = 20


def _stored_runs(project, n=N):
    eval_set = eval_set_from_examples(
        "set", "memory", [{"messages": [{"role": "user", "content": f"q{i}"}]} for i in range(n)]
    )
    set_id = save_eval_set(project, eval_set)
    run_ids = []
    for label in ("base", "tuned"):
        outputs = [
            ExampleOutput(e.index, f"{label} answer {e.index}", 3, True, score_answer(e, "x"))
            for e in eval_set.examples
        ]
        spec = ModelSpec(label=label, base_model="/m")
        result = EvalResult(spec, eval_set, GenerationConfig(), outputs, created_at="t")
        run_ids.append(save_result(project, set_id, result))
    return run_ids


def _pick_for(project, pair_set_id, pair_id, winner_run):
    shown_a, _ = revealed_sides(project, pair_set_id)[pair_id]
    return "A" if shown_a == winner_run else "B"


def test_pairs_are_shuffled_from_a_recorded_seed_and_reproducible(project):
    base, tuned = _stored_runs(project)
    first = create_pair_set(project, base, tuned, seed=11)
    again = create_pair_set(project, base, tuned, seed=11)
    other = create_pair_set(project, base, tuned, seed=12)
    order = [p.example_index for p in blind_pairs(project, first)]
    assert order == [p.example_index for p in blind_pairs(project, again)]
    assert order != [p.example_index for p in blind_pairs(project, other)]
    assert order != sorted(order) and sorted(order) == list(range(N))
    sides = revealed_sides(project, first)
    a_is_base = [sides[p.id][0] == base for p in blind_pairs(project, first)]
    assert 0 < sum(a_is_base) < N  # each model appears as A sometimes, not always
    stored = list_pair_sets(project)[0]
    assert (stored.seed, stored.n_pairs, stored.label_a, stored.label_b) == (11, N, "base", "tuned")
    unseeded = create_pair_set(project, base, tuned, limit=5)
    assert list_pair_sets(project)[-1].seed >= 0 and len(blind_pairs(project, unseeded)) == 5


def test_the_rater_sees_no_identities(project):
    base, tuned = _stored_runs(project)
    pair = blind_pairs(project, create_pair_set(project, base, tuned, seed=1))[0]
    names = {f.name for f in dataclasses.fields(BlindPair)}
    assert not names & {"run_a_id", "run_b_id", "label_a", "label_b", "shown_a_run_id"}
    assert {pair.answer_a.split()[0], pair.answer_b.split()[0]} == {"base", "tuned"}


def test_ratings_are_kept_per_rater_replaced_and_undone(project):
    base, tuned = _stored_runs(project, 3)
    pair_set = create_pair_set(project, base, tuned, seed=0)
    first = next_unrated_pair(project, pair_set, "ana")
    scores = {"A": {"accuracy": 4, "tone": 5}, "B": {"accuracy": 2}}
    record_rating(project, first.id, "ana", Rating("A", scores, "B misses the point"))
    record_rating(project, first.id, "ben", Rating("tie"))
    assert get_rating(project, first.id, "ana") == Rating("A", scores, "B misses the point")
    assert next_unrated_pair(project, pair_set, "ana").id != first.id
    assert next_unrated_pair(project, pair_set, "carl").id == first.id
    assert rating_progress(project, pair_set, "ana") == (1, 3)
    record_rating(project, first.id, "ana", Rating("B"))
    assert get_rating(project, first.id, "ana").pick == "B"
    delete_rating(project, first.id, "ana")
    assert get_rating(project, first.id, "ana") is None
    assert rater_names(project, pair_set) == ["ben"]


@pytest.mark.parametrize(
    ("rating", "message"),
    [
        (Rating("C"), "pick must be one of"),
        (Rating("A", {"A": {"accuracy": 6}}), "from 1 to 5"),
        (Rating("A", {"A": {"humour": 3}}), "unknown dimension"),
        (Rating("A", {"C": {"accuracy": 3}}), "answer A or B"),
    ],
)
def test_bad_ratings_are_refused(project, rating, message):
    base, tuned = _stored_runs(project, 2)
    pair = blind_pairs(project, create_pair_set(project, base, tuned, seed=0))[0]
    with pytest.raises(RatingError, match=message):
        record_rating(project, pair.id, "ana", rating)
    with pytest.raises(RatingError, match="rater's name"):
        record_rating(project, pair.id, "  ", Rating("A"))


def test_win_rates_reveal_identities_and_agreement_is_measured(project):
    base, tuned = _stored_runs(project)
    pair_set = create_pair_set(project, base, tuned, seed=3)
    pairs = blind_pairs(project, pair_set)
    for number, pair in enumerate(pairs):
        tuned_side = _pick_for(project, pair_set, pair.id, tuned)
        base_side = "B" if tuned_side == "A" else "A"
        # ana prefers the tuned model every time; ben on 15 of 20, tie on the rest.
        record_rating(
            project,
            pair.id,
            "ana",
            Rating(tuned_side, {tuned_side: {"accuracy": 5}, base_side: {"accuracy": 3}}),
        )
        record_rating(project, pair.id, "ben", Rating(tuned_side if number < 15 else "tie"))
    summary = ab_summary(project, pair_set)
    assert summary.human_raters == ("ana", "ben")
    assert summary.rated_pairs == N
    # Majority per pair: 15 tuned wins; 5 split votes (tuned vs tie) count as ties.
    assert (summary.human.wins_b, summary.human.ties, summary.human.wins_a) == (15, 5, 0)
    assert summary.human.b_win_rate.value == 1.0
    assert summary.human.verdict == BETTER
    assert summary.human.p_value == pytest.approx(2 / 2**15)
    assert summary.per_rater["ana"].wins_b == 20
    accuracy = next(d for d in summary.dimensions if d.dimension == "accuracy")
    assert (accuracy.mean_a, accuracy.mean_b, accuracy.verdict) == (3.0, 5.0, BETTER)
    assert next(d for d in summary.dimensions if d.dimension == "tone").verdict == "not rated"
    agreement = summary.agreement
    assert agreement.n_items == N
    assert agreement.percent_agreement == pytest.approx(0.75)
    # ana always says "b": kappa is 0 (chance-level agreement on a constant rater).
    assert agreement.pairwise[0].kappa == pytest.approx(0.0)


def test_few_ratings_are_not_enough_to_tell(project):
    base, tuned = _stored_runs(project, 4)
    pair_set = create_pair_set(project, base, tuned, seed=3)
    for pair in blind_pairs(project, pair_set)[:3]:
        record_rating(project, pair.id, "ana", Rating(_pick_for(project, pair_set, pair.id, tuned)))
    summary = ab_summary(project, pair_set)
    assert summary.human.wins_b == 3 and summary.human.verdict == CANNOT_TELL
    assert summary.agreement is None  # one rater: nothing to agree with


def test_pairs_need_two_results_on_the_same_eval_set(project):
    base, _ = _stored_runs(project, 3)
    with pytest.raises(RatingError, match="two different"):
        create_pair_set(project, base, base)
