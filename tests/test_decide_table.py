"""The decision table: every answer the wizard accepts, and what the guide says each should get."""

from __future__ import annotations

import itertools

import pytest

from core.decide import guide
from core.decide.answers import Answers, AnswersError
from core.decide.cost import fine_tuning_cost
from core.decide.questions import (
    BASE_MODEL,
    EXPERT_EXAMPLE_COUNTS,
    EXPERT_EXAMPLES,
    KEEP_BROAD_CAPABILITIES,
    PROBLEMS,
    PROMPT_ENGINEERING,
    QUESTIONS,
)
from core.decide.recommend import (
    DECISION_TABLE,
    FINE_TUNING,
    FINE_TUNING_AND_RAG,
    MORE_CAPABLE_MODEL,
    OUTCOMES,
    RAG,
    facts_of,
    recommend,
)
from core.decide.recommend import (
    PROMPT_ENGINEERING as PROMPT_OUTCOME,
)

KNOWLEDGE = {"knowledge_missing", "knowledge_changing"}
BEHAVIOUR = {"format_complex", "domain_reasoning", "complex_behaviour", "prompt_too_long"}


def _problem_sets() -> list[tuple[str, ...]]:
    """Every non-empty set of problems, except simple and complex format together."""
    others = [p for p in PROBLEMS.values if p not in ("format_simple", "format_complex")]
    sets = []
    for fmt in ((), ("format_simple",), ("format_complex",)):
        for size in range(len(others) + 1):
            for combo in itertools.combinations(others, size):
                if fmt or combo:
                    sets.append((*fmt, *combo))
    return sets


PROBLEM_SETS = _problem_sets()


def _rest_of_answers():
    return itertools.product(
        PROMPT_ENGINEERING.values,
        BASE_MODEL.values,
        EXPERT_EXAMPLES.values,
        KEEP_BROAD_CAPABILITIES.values,
    )


def guide_outcome(answers: Answers) -> str:
    """The guide's framework, read straight from its text, as the oracle."""
    problems = set(answers.problems)
    if answers.base_model == "no":
        return MORE_CAPABLE_MODEL  # "fine-tuning will not create the capability"
    knowledge = bool(problems & KNOWLEDGE)  # "IF missing knowledge -> RAG"
    behaviour = bool(problems & BEHAVIOUR)  # complex behaviour / reasoning / too-long prompt
    if not behaviour:
        return RAG if knowledge else PROMPT_OUTCOME  # simple format -> prompt engineering
    if answers.prompt_engineering != "measured":  # exhaust (and measure) prompting first
        return RAG if knowledge else PROMPT_OUTCOME
    return FINE_TUNING_AND_RAG if knowledge else FINE_TUNING  # "all of the above -> both"


def expected_task_kind(problems: set[str]) -> str | None:
    if "complex_behaviour" in problems:
        return "reasoning"
    if "domain_reasoning" in problems:
        return "domain"
    if problems & {"format_complex", "prompt_too_long"}:
        return "format"
    return None


def test_the_answer_space_is_what_the_questions_offer():
    assert len(PROBLEM_SETS) == 3 * 2**5 - 1
    assert len(set(PROBLEM_SETS)) == len(PROBLEM_SETS)
    assert [q.key for q in QUESTIONS] == [
        "problems",
        "prompt_engineering",
        "base_model",
        "expert_examples",
        "keep_broad_capabilities",
    ]
    assert set(EXPERT_EXAMPLE_COUNTS) == set(EXPERT_EXAMPLES.values)


@pytest.mark.parametrize("problems", PROBLEM_SETS, ids="+".join)
def test_every_answer_gets_the_guides_outcome_and_a_complete_explanation(problems):
    for prompting, base_model, examples, keep_broad in _rest_of_answers():
        answers = Answers(problems, prompting, base_model, examples, keep_broad)
        where = answers.to_json()
        rec = recommend(answers)
        problem_set = set(problems)
        kind = expected_task_kind(problem_set)

        assert rec.outcome == guide_outcome(answers), where
        assert rec.outcome in OUTCOMES
        assert rec.task_kind == kind, where
        assert rec.headline and rec.summary and rec.reasons and rec.next_steps, where
        texts = [rec.headline, rec.summary, *rec.reasons, *rec.next_steps, rec.data.text]
        texts += [risk.text for risk in rec.risks] + [line.detail for line in rec.cost.lines]
        assert all(text.strip() and "{" not in text and "None" not in text for text in texts)

        advised = rec.fine_tuning_advised
        assert advised == (rec.outcome in (FINE_TUNING, FINE_TUNING_AND_RAG))
        if advised:
            assert rec.data.examples == guide.EXAMPLES_NEEDED[kind], where
            assert rec.preset_lora_r == guide.LORA_RANK[kind]
            assert any(line.label == "GPU time" for line in rec.cost.lines)
            assert any("Estimate memory" in step for step in rec.next_steps)
        else:
            assert rec.data.examples is None and rec.preset_lora_r is None, where
            assert not rec.risks, where  # the three risks are risks of fine-tuning
            assert all(line.label != "GPU time" for line in rec.cost.lines)
        assert 0 < rec.cost.low_usd <= rec.cost.high_usd, where

        risks = {risk.key for risk in rec.risks}
        assert ("catastrophic_forgetting" in risks) == (advised and keep_broad), where
        assert ("static_knowledge" in risks) == (
            advised and bool(problem_set & (KNOWLEDGE | {"domain_reasoning"}))
        ), where
        if advised:
            _have_low, have_high = EXPERT_EXAMPLE_COUNTS[examples]
            small = have_high is not None and (
                have_high < guide.EXAMPLES_NEEDED[kind][0]
                or have_high < guide.SMALL_DATASET_EXAMPLES
            )
            assert ("small_or_biased_dataset" in risks) == small, where
            assert ("base_model_unchecked" in risks) == (base_model == "not_checked")
            if keep_broad:
                assert any("LoRA or QLoRA" in reason for reason in rec.reasons)
            else:
                assert any("full fine-tuning is an option" in r for r in rec.reasons)
        if rec.outcome == MORE_CAPABLE_MODEL:
            assert "does not create" in " ".join(rec.reasons)
        if rec.outcome in (RAG, FINE_TUNING_AND_RAG):
            assert any("retrieval" in step for step in rec.next_steps)


def test_every_rule_of_the_table_is_reached_and_rules_after_the_first_never_overlap():
    reached = set()
    for problems in PROBLEM_SETS:
        for prompting, base_model, examples, keep_broad in _rest_of_answers():
            facts = facts_of(Answers(problems, prompting, base_model, examples, keep_broad))
            applying = [rule.key for rule in DECISION_TABLE if rule.applies(facts)]
            if base_model != "no":
                assert len(applying) == 1, (problems, prompting, applying)
            reached.add(
                recommend(Answers(problems, prompting, base_model, examples, keep_broad)).rule
            )
    assert reached == {rule.key for rule in DECISION_TABLE}


# One readable case per path through the table, with what a user should read on the card.
PATHS = [
    (
        "base_model_cannot",
        Answers(("complex_behaviour",), "measured", "no", "over_10000", True),
        MORE_CAPABLE_MODEL,
        "more capable",
    ),
    (
        "simple_format_only",
        Answers(("format_simple",), "not_tried", "yes", "none", True),
        PROMPT_OUTCOME,
        "system prompt",
    ),
    (
        "knowledge_only",
        Answers(("knowledge_changing", "format_simple"), "measured", "yes", "none", False),
        RAG,
        "retrieve",
    ),
    (
        "behaviour_prompt_unmeasured",
        Answers(("format_complex",), "tried_not_measured", "yes", "50_to_200", True),
        PROMPT_OUTCOME,
        "measured prompt",
    ),
    (
        "behaviour_and_knowledge_prompt_unmeasured",
        Answers(("domain_reasoning", "knowledge_missing"), "not_tried", "yes", "none", True),
        RAG,
        "retrieval",
    ),
    (
        "behaviour_prompt_measured",
        Answers(("prompt_too_long",), "measured", "yes", "200_to_500", False),
        FINE_TUNING,
        "fine-tune",
    ),
    (
        "behaviour_and_knowledge_prompt_measured",
        Answers(
            ("complex_behaviour", "knowledge_missing"), "measured", "not_checked", "none", True
        ),
        FINE_TUNING_AND_RAG,
        "complementary",
    ),
]


@pytest.mark.parametrize(("rule", "answers", "outcome", "phrase"), PATHS, ids=[p[0] for p in PATHS])
def test_each_path_reads_right(rule, answers, outcome, phrase):
    rec = recommend(answers)
    assert (rec.rule, rec.outcome) == (rule, outcome)
    assert phrase in (rec.headline + " " + rec.summary).lower()


def test_paths_cover_the_table():
    assert [p[0] for p in PATHS] == [rule.key for rule in DECISION_TABLE]


def test_unmeasured_behaviour_says_what_fine_tuning_would_take_later():
    rec = recommend(Answers(("complex_behaviour",), "not_tried", "yes", "none", True))
    later = " ".join(rec.reasons)
    assert "2,000-10,000 expert-written examples" in later
    assert "lowest-cost, lowest-risk" in later
    assert "2,000-10,000" in rec.data.text


def test_data_text_says_how_many_more_to_write():
    rec = recommend(Answers(("domain_reasoning",), "measured", "yes", "200_to_500", True))
    assert "up to 300 more, to reach 500" in rec.data.text
    enough = recommend(Answers(("format_complex",), "measured", "yes", "2000_to_10000", True))
    assert "more than enough" in enough.data.text
    assert not {r.key for r in enough.risks} & {"small_or_biased_dataset"}


def test_project_cost_follows_the_guides_figures():
    # 2,000 examples take 80-160 expert hours.
    cost = fine_tuning_cost("reasoning", 0, 75.0)
    data = cost.lines[0]
    assert data.low_usd == pytest.approx(80 * 75.0)
    gpu = cost.lines[-1]
    assert (gpu.low_usd, gpu.high_usd) == (10 * 5.0, 20 * 20.0)  # 10-20 runs at $5-20
    # A domain project of up to 2,000 examples from scratch lands in the guide's $5k-30k.
    domain = fine_tuning_cost("domain", 0, 75.0)
    assert 5_000 <= domain.high_usd <= 30_000
    # Examples you already have are not paid for again.
    assert fine_tuning_cost("domain", 2_000, 75.0).lines[0].high_usd == 0
    assert any("$5,000-$30,000" in note for note in cost.notes)
    assert any("3-5 iterations" in note for note in cost.notes)
    # The expert rate scales the expert lines, not the GPU line.
    doubled = fine_tuning_cost("domain", 0, 150.0)
    assert doubled.lines[0].high_usd == pytest.approx(2 * domain.lines[0].high_usd)
    assert doubled.lines[-1].high_usd == domain.lines[-1].high_usd


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"problems": ()}, "problems"),
        ({"problems": ("format_simple", "format_complex")}, "problems"),
        ({"problems": ("slow",)}, "problems"),
        ({"problems": "format_simple"}, "problems"),
        ({"prompt_engineering": "maybe"}, "prompt_engineering"),
        ({"base_model": "perhaps"}, "base_model"),
        ({"expert_examples": "lots"}, "expert_examples"),
        ({"keep_broad_capabilities": "yes"}, "keep_broad_capabilities"),
        ({"expert_hourly_rate_usd": -5}, "expert_hourly_rate_usd"),
    ],
)
def test_bad_answers_are_refused_naming_the_field(values, field):
    good = {
        "problems": ("format_complex",),
        "prompt_engineering": "measured",
        "base_model": "yes",
        "expert_examples": "none",
        "keep_broad_capabilities": True,
    }
    with pytest.raises(AnswersError, match=field):
        Answers(**{**good, **values})


def test_answers_round_trip_as_sorted_versioned_json():
    answers = Answers(("prompt_too_long", "format_complex"), "measured", "yes", "none", False, 90)
    data = answers.to_dict()
    assert list(data) == sorted(data) and data["version"] == 1
    assert data["problems"] == ["format_complex", "prompt_too_long"]
    assert Answers.from_json(answers.to_json()) == answers
    with pytest.raises(AnswersError, match="unknown fields"):
        Answers.from_dict({**data, "colour": "blue"})
    with pytest.raises(AnswersError, match="base_model: missing"):
        Answers.from_dict({k: v for k, v in data.items() if k != "base_model"})
    with pytest.raises(AnswersError, match="v2"):
        Answers.from_dict({**data, "version": 2})
