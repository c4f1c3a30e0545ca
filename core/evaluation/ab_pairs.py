"""Blind A/B pairs and their ratings: two anonymised answers to one prompt, in random order.

A pair set takes two stored results on the same eval set (base against a run, or run
against run). Its pairs are shuffled, and which model is shown as A is drawn per
pair, both from a recorded seed, so the order can be reproduced but not guessed.
The rater sees only `BlindPair` (no model names); identities are revealed only by
the summary and the report. Each rater's rating is stored per pair; rating again
replaces the previous one.
"""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass, field

from core.evaluation.store import UnknownRecordError, load_result
from core.project.store import utc_now

PICKS = ("A", "B", "tie")
DIMENSIONS = ("accuracy", "format", "tone", "completeness")
DIMENSION_HELP = {
    "accuracy": "Is the content correct and faithful to the prompt?",
    "format": "Does it follow the required format (structure, length, markup)?",
    "tone": "Does it sound the way this product should sound?",
    "completeness": "Does it cover everything the prompt asks for?",
}
MIN_SCORE, MAX_SCORE = 1, 5
HUMAN, JUDGE = "human", "judge"


class RatingError(ValueError):
    """A rating that cannot be stored, with what is wrong."""


@dataclass(frozen=True)
class PairSet:
    id: int
    name: str
    run_a_id: int
    run_b_id: int
    label_a: str  # identities: for the summary and the report, never for the rater
    label_b: str
    seed: int
    n_pairs: int
    created_at: str


@dataclass(frozen=True)
class BlindPair:
    """What a rater sees: a prompt and two answers named only A and B."""

    id: int
    position: int  # 0-based place in the rating order
    example_index: int
    prompt: tuple[dict, ...]
    reference: str | None
    answer_a: str
    answer_b: str


@dataclass(frozen=True)
class Rating:
    pick: str | None  # "A", "B", "tie"; None for a judge answer that could not be read
    scores: dict = field(default_factory=dict)  # {"A": {"accuracy": 4, ...}, "B": {...}}
    comment: str = ""


def create_pair_set(
    project,
    run_a_id: int,
    run_b_id: int,
    seed: int | None = None,
    name: str | None = None,
    limit: int | None = None,
) -> int:
    """Pairs for every example both results answered (or a random `limit` of them); its id."""
    if run_a_id == run_b_id:
        raise RatingError("Choose two different results to compare.")
    first, second = load_result(project, run_a_id), load_result(project, run_b_id)
    if first.eval_set.content_hash != second.eval_set.content_hash:
        raise RatingError(
            f"'{first.label}' and '{second.label}' were evaluated on different eval sets; "
            "A/B pairs need the same prompts on both sides."
        )
    shared = sorted({o.index for o in first.outputs} & {o.index for o in second.outputs})
    if not shared:
        raise RatingError("The two results share no answered examples.")
    seed = secrets.randbelow(2**31) if seed is None else seed
    chooser = random.Random(seed)
    chooser.shuffle(shared)
    if limit is not None:
        shared = shared[:limit]
    name = name or f"{first.label} vs {second.label}"
    with project.transaction() as conn:
        pair_set_id = conn.execute(
            "INSERT INTO evaluation_pair_sets(name, run_a_id, run_b_id, seed, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, run_a_id, run_b_id, seed, utc_now()),
        ).lastrowid
        rows = []
        for position, example_index in enumerate(shared):
            a_first = chooser.random() < 0.5
            shown_a, shown_b = (run_a_id, run_b_id) if a_first else (run_b_id, run_a_id)
            rows.append((pair_set_id, position, example_index, shown_a, shown_b))
        conn.executemany(
            "INSERT INTO evaluation_pairs(pair_set_id, position, example_index, shown_a_run_id, "
            "shown_b_run_id) VALUES (?, ?, ?, ?, ?)",
            rows,
        )
    return pair_set_id


def list_pair_sets(project) -> list[PairSet]:
    rows = project.connection().execute(
        "SELECT s.id, s.name, s.run_a_id, s.run_b_id, a.label, b.label, s.seed, "
        "(SELECT COUNT(*) FROM evaluation_pairs p WHERE p.pair_set_id = s.id), s.created_at "
        "FROM evaluation_pair_sets s JOIN evaluation_runs a ON a.id = s.run_a_id "
        "JOIN evaluation_runs b ON b.id = s.run_b_id ORDER BY s.id"
    )
    return [PairSet(*row) for row in rows]


def get_pair_set(project, pair_set_id: int) -> PairSet:
    for pair_set in list_pair_sets(project):
        if pair_set.id == pair_set_id:
            return pair_set
    raise UnknownRecordError(f"A/B pair set {pair_set_id} is not in this project.")


def blind_pairs(project, pair_set_id: int) -> list[BlindPair]:
    """Every pair in rating order, anonymised."""
    pair_set = get_pair_set(project, pair_set_id)
    results = {
        run_id: load_result(project, run_id) for run_id in (pair_set.run_a_id, pair_set.run_b_id)
    }
    answers = {
        run_id: {o.index: o.answer for o in result.outputs} for run_id, result in results.items()
    }
    eval_set = results[pair_set.run_a_id].eval_set
    pairs = []
    for row in project.connection().execute(
        "SELECT id, position, example_index, shown_a_run_id, shown_b_run_id FROM evaluation_pairs "
        "WHERE pair_set_id = ? ORDER BY position",
        (pair_set_id,),
    ):
        example = eval_set.examples[row["example_index"]]
        pairs.append(
            BlindPair(
                id=row["id"],
                position=row["position"],
                example_index=row["example_index"],
                prompt=example.prompt,
                reference=example.reference,
                answer_a=answers[row["shown_a_run_id"]][row["example_index"]],
                answer_b=answers[row["shown_b_run_id"]][row["example_index"]],
            )
        )
    return pairs


def revealed_sides(project, pair_set_id: int) -> dict[int, tuple[int, int]]:
    """pair id -> (run shown as A, run shown as B): the identities, for reports only."""
    rows = project.connection().execute(
        "SELECT id, shown_a_run_id, shown_b_run_id FROM evaluation_pairs WHERE pair_set_id = ?",
        (pair_set_id,),
    )
    return {row[0]: (row[1], row[2]) for row in rows}


def rated_pair_ids(project, pair_set_id: int, rater: str) -> set[int]:
    rows = project.connection().execute(
        "SELECT r.pair_id FROM evaluation_ratings r JOIN evaluation_pairs p ON p.id = r.pair_id "
        "WHERE p.pair_set_id = ? AND r.rater = ?",
        (pair_set_id, rater),
    )
    return {row[0] for row in rows}


def next_unrated_pair(project, pair_set_id: int, rater: str) -> BlindPair | None:
    """The first pair this rater has not rated yet, or None when they are done."""
    done = rated_pair_ids(project, pair_set_id, rater)
    return next((p for p in blind_pairs(project, pair_set_id) if p.id not in done), None)


def rating_progress(project, pair_set_id: int, rater: str) -> tuple[int, int]:
    """(pairs this rater has rated, pairs in the set)."""
    total = get_pair_set(project, pair_set_id).n_pairs
    return len(rated_pair_ids(project, pair_set_id, rater)), total


def validate_rating(rating: Rating) -> None:
    if rating.pick is not None and rating.pick not in PICKS:
        raise RatingError(f"pick must be one of {', '.join(PICKS)}, got {rating.pick!r}")
    for side, scores in rating.scores.items():
        if side not in ("A", "B"):
            raise RatingError(f"scores are given for answer A or B, not {side!r}")
        for dimension, value in scores.items():
            if dimension not in DIMENSIONS:
                raise RatingError(f"unknown dimension {dimension!r}; rate {', '.join(DIMENSIONS)}")
            if value is not None and (
                not isinstance(value, int) or not MIN_SCORE <= value <= MAX_SCORE
            ):
                raise RatingError(
                    f"{side} {dimension} must be a whole number from {MIN_SCORE} to {MAX_SCORE}, "
                    f"got {value!r}"
                )


def record_rating(
    project,
    pair_id: int,
    rater: str,
    rating: Rating,
    rater_kind: str = HUMAN,
    presented: str = "AB",
    raw_text: str = "",
) -> None:
    """Store (or replace) one rater's rating of one pair.

    `presented` is the order a judge saw the answers in ("BA": B was shown first); the
    pick and scores are always stored relative to the pair's own A and B.
    """
    if not rater.strip():
        raise RatingError("Give the rater's name, so ratings from several people stay apart.")
    if rater_kind not in (HUMAN, JUDGE):
        raise RatingError(f"rater_kind must be {HUMAN!r} or {JUDGE!r}")
    if presented not in ("AB", "BA"):
        raise RatingError("presented must be 'AB' or 'BA'")
    validate_rating(rating)
    with project.transaction() as conn:
        if (
            conn.execute("SELECT 1 FROM evaluation_pairs WHERE id = ?", (pair_id,)).fetchone()
            is None
        ):
            raise UnknownRecordError(f"A/B pair {pair_id} is not in this project.")
        conn.execute(
            "INSERT INTO evaluation_ratings(pair_id, rater, rater_kind, presented, pick, "
            "scores_json, comment, raw_text, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(pair_id, rater, presented) DO UPDATE SET pick = excluded.pick, "
            "scores_json = excluded.scores_json, comment = excluded.comment, "
            "raw_text = excluded.raw_text, created_at = excluded.created_at",
            (
                pair_id,
                rater.strip(),
                rater_kind,
                presented,
                rating.pick,
                json.dumps(rating.scores, sort_keys=True),
                rating.comment,
                raw_text,
                utc_now(),
            ),
        )


def get_rating(project, pair_id: int, rater: str, presented: str = "AB") -> Rating | None:
    """A rater's stored rating of a pair (to show it again, or to undo it)."""
    row = (
        project.connection()
        .execute(
            "SELECT pick, scores_json, comment FROM evaluation_ratings "
            "WHERE pair_id = ? AND rater = ? AND presented = ?",
            (pair_id, rater, presented),
        )
        .fetchone()
    )
    return None if row is None else Rating(row[0], json.loads(row[1]), row[2])


def delete_rating(project, pair_id: int, rater: str) -> None:
    """Forget a rater's rating of a pair (the page's undo)."""
    with project.transaction() as conn:
        conn.execute(
            "DELETE FROM evaluation_ratings WHERE pair_id = ? AND rater = ?", (pair_id, rater)
        )


def rater_names(project, pair_set_id: int, rater_kind: str = HUMAN) -> list[str]:
    rows = project.connection().execute(
        "SELECT DISTINCT r.rater FROM evaluation_ratings r JOIN evaluation_pairs p "
        "ON p.id = r.pair_id WHERE p.pair_set_id = ? AND r.rater_kind = ? ORDER BY r.rater",
        (pair_set_id, rater_kind),
    )
    return [row[0] for row in rows]
