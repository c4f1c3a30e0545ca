"""The decision table of the fine-tuning guide, and the recommendation it leads to.

`recommend(answers)` is a pure function: facts are derived from the answers, the first rule
of DECISION_TABLE that applies picks the outcome, and the explanation (reasons, risks, data,
cost, next steps) is assembled in plain words from the guide's advice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.decide import guide
from core.decide.answers import Answers
from core.decide.cost import (
    ProjectCost,
    evaluation_only_cost,
    fine_tuning_cost,
    format_usd_range,
)
from core.decide.questions import EXPERT_EXAMPLE_COUNTS, EXPERT_EXAMPLES

PROMPT_ENGINEERING = "prompt_engineering"
RAG = "rag"
FINE_TUNING = "fine_tuning"
FINE_TUNING_AND_RAG = "fine_tuning_and_rag"
MORE_CAPABLE_MODEL = "more_capable_model"

OUTCOME_TITLES = {
    PROMPT_ENGINEERING: "Prompt engineering",
    RAG: "Retrieval (RAG)",
    FINE_TUNING: "Fine-tuning",
    FINE_TUNING_AND_RAG: "Fine-tuning + RAG",
    MORE_CAPABLE_MODEL: "A more capable base model",
}
OUTCOMES = tuple(OUTCOME_TITLES)

KNOWLEDGE_PROBLEMS = ("knowledge_missing", "knowledge_changing")
# Problems that only a change of the weights can fix, most demanding first, with their kind.
BEHAVIOUR_PROBLEMS = {
    "complex_behaviour": "reasoning",
    "domain_reasoning": "domain",
    "format_complex": "format",
    "prompt_too_long": "format",
}

WHY_FINE_TUNING = {
    "format_complex": "The format or style is too complex to capture in a prompt; teaching a "
    "format is one of the things fine-tuning does best.",
    "domain_reasoning": "Working like an expert in your field (its terminology, conventions and "
    "reasoning) is domain adaptation, which fine-tuning does well and retrieval does not.",
    "complex_behaviour": "A complex new behaviour or reasoning pattern changes how the model "
    "works, not what it knows; that takes fine-tuning, and the most data.",
    "prompt_too_long": "Your prompt works but is too long; fine-tuning can bake its instructions "
    "into the weights, so every call is shorter and faster.",
}
WHY_RAG = {
    "knowledge_missing": "The model lacks facts it needs; retrieval (RAG) fetches them from your "
    "documents when it answers, and can cite its sources.",
    "knowledge_changing": "Your information changes often; a retrieval index is updated in "
    "minutes, while facts trained into weights are frozen until you retrain.",
}
RAG_OVER_WEIGHTS = (
    "For knowledge, RAG is cheaper and easier to maintain than fine-tuning, and it avoids the "
    "model hallucinating facts it half-learned."
)


@dataclass(frozen=True)
class Facts:
    """What the decision table looks at, derived from the answers."""

    needs_knowledge: bool
    needs_behaviour: bool
    prompt_measured: bool
    base_model: str  # yes, no, not_checked
    task_kind: str | None


def facts_of(answers: Answers) -> Facts:
    return Facts(
        needs_knowledge=any(p in answers.problems for p in KNOWLEDGE_PROBLEMS),
        needs_behaviour=any(p in answers.problems for p in BEHAVIOUR_PROBLEMS),
        prompt_measured=answers.prompt_engineering == "measured",
        base_model=answers.base_model,
        task_kind=task_kind_of(answers.problems),
    )


def task_kind_of(problems: tuple[str, ...]) -> str | None:
    """format, domain or reasoning: the most demanding fine-tuning task the problems describe."""
    for problem, kind in BEHAVIOUR_PROBLEMS.items():
        if problem in problems:
            return kind
    return None


@dataclass(frozen=True)
class Rule:
    key: str
    when: str  # the condition in the guide's words
    outcome: str
    applies: Callable[[Facts], bool]


DECISION_TABLE: tuple[Rule, ...] = (
    Rule(
        "base_model_cannot",
        "the base model cannot do the task even when prompted well",
        MORE_CAPABLE_MODEL,
        lambda f: f.base_model == "no",
    ),
    Rule(
        "simple_format_only",
        "only the output format or style is wrong, and it is simple",
        PROMPT_ENGINEERING,
        lambda f: not f.needs_knowledge and not f.needs_behaviour,
    ),
    Rule(
        "knowledge_only",
        "the problem is missing or changing knowledge",
        RAG,
        lambda f: f.needs_knowledge and not f.needs_behaviour,
    ),
    Rule(
        "behaviour_prompt_unmeasured",
        "the behaviour must change, but no prompt has been measured yet",
        PROMPT_ENGINEERING,
        lambda f: f.needs_behaviour and not f.needs_knowledge and not f.prompt_measured,
    ),
    Rule(
        "behaviour_and_knowledge_prompt_unmeasured",
        "knowledge is missing and the behaviour must change, but no prompt has been measured",
        RAG,
        lambda f: f.needs_behaviour and f.needs_knowledge and not f.prompt_measured,
    ),
    Rule(
        "behaviour_prompt_measured",
        "a measured prompt falls short on behaviour, format or prompt length",
        FINE_TUNING,
        lambda f: f.needs_behaviour and not f.needs_knowledge and f.prompt_measured,
    ),
    Rule(
        "behaviour_and_knowledge_prompt_measured",
        "a measured prompt falls short on behaviour, and knowledge is missing too",
        FINE_TUNING_AND_RAG,
        lambda f: f.needs_behaviour and f.needs_knowledge and f.prompt_measured,
    ),
)


def matching_rule(facts: Facts) -> Rule:
    for rule in DECISION_TABLE:
        if rule.applies(facts):
            return rule
    raise AssertionError(f"the decision table has no rule for {facts}")  # a bug, not bad input


@dataclass(frozen=True)
class Risk:
    key: str  # catastrophic_forgetting, small_or_biased_dataset, static_knowledge, ...
    title: str
    text: str


@dataclass(frozen=True)
class DataNeed:
    examples: tuple[int, int] | None  # training examples, when fine-tuning is advised
    text: str


@dataclass(frozen=True)
class Recommendation:
    outcome: str  # one of OUTCOMES
    rule: str  # the DECISION_TABLE rule that decided it
    headline: str
    summary: str
    reasons: tuple[str, ...]
    risks: tuple[Risk, ...]
    data: DataNeed
    cost: ProjectCost
    next_steps: tuple[str, ...]
    task_kind: str | None
    preset_lora_r: int | None

    @property
    def title(self) -> str:
        return OUTCOME_TITLES[self.outcome]

    @property
    def fine_tuning_advised(self) -> bool:
        return self.outcome in (FINE_TUNING, FINE_TUNING_AND_RAG)


# Text pieces -------------------------------------------------------------------------------


def _have_text(answers: Answers) -> str:
    return EXPERT_EXAMPLES.option(answers.expert_examples).label.lower()


def _data_versus_need(answers: Answers, kind: str) -> str:
    need_low, need_high = guide.EXAMPLES_NEEDED[kind]
    have_low, have_high = EXPERT_EXAMPLE_COUNTS[answers.expert_examples]
    start = (
        f"For {guide.TASK_KIND_TITLES[kind]} the guide's range is {need_low:,}-{need_high:,} "
        f"examples; you have {_have_text(answers)}."
    )
    if have_high is not None and have_high < need_low:
        if have_low == 0:
            return f"{start} Plan for experts to write at least {need_low:,} before training."
        return (
            f"{start} Plan for experts to write up to {need_low - have_low:,} more, to reach "
            f"{need_low:,} before training."
        )
    if have_low >= need_high:
        return (
            f"{start} That is more than enough: favour quality, review them for consistency "
            "and keep 100-200 apart for evaluation."
        )
    return (
        f"{start} That is enough to start: train on the best of them first and add examples "
        "where evaluation shows gaps."
    )


def _prompting_reason(answers: Answers) -> str:
    if answers.prompt_engineering == "not_tried":
        return (
            "You have not tried prompt engineering yet. It is the lowest-cost, lowest-risk "
            "start, and many teams spend thousands fine-tuning for results a well-crafted "
            "system prompt could have delivered."
        )
    return (
        "You tried prompts but judged them by eye. Decide on measurements: a measured prompt "
        "tells you whether fine-tuning is needed, and is the baseline it must beat."
    )


def _measured_reason(answers: Answers) -> str:
    behaviours = [p for p in answers.problems if p in BEHAVIOUR_PROBLEMS]
    if behaviours == ["prompt_too_long"]:
        return (
            "You measured the working prompt: its quality, latency and cost are the baseline "
            "the fine-tuned model has to match with a short prompt."
        )
    return (
        "You measured your best prompt and it falls short, so fine-tuning is decided on "
        "evidence, and that measurement is the baseline to beat."
    )


def _base_model_reason(answers: Answers) -> str:
    if answers.base_model == "yes":
        return (
            "The base model can already do the task at least partly; fine-tuning sharpens an "
            "existing ability, which is what it does well."
        )
    return (
        "You have not checked that the base model can do the task when prompted well. Check "
        "first: fine-tuning refines abilities, it does not create them."
    )


def _broad_reason(answers: Answers) -> str:
    if answers.keep_broad_capabilities:
        return (
            "The model must keep its general abilities: use LoRA or QLoRA rather than full "
            "fine-tuning, a low learning rate, and some general-purpose data mixed in."
        )
    return (
        "It only has to do this task, so forgetting matters less: full fine-tuning is an "
        "option if it fits your GPU and the data justifies the cost, though QLoRA is still "
        "the usual start."
    )


def _fine_tuning_later(answers: Answers, kind: str, have_low: int) -> str:
    need_low, need_high = guide.EXAMPLES_NEEDED[kind]
    cost = fine_tuning_cost(kind, have_low, answers.expert_hourly_rate_usd)
    return (
        f"If the measured prompt still falls short, fine-tuning this would need about "
        f"{need_low:,}-{need_high:,} expert-written examples and cost about "
        f"{format_usd_range(cost.low_usd, cost.high_usd)} in total."
    )


def _risks(answers: Answers, facts: Facts, outcome: str) -> tuple[Risk, ...]:
    if outcome not in (FINE_TUNING, FINE_TUNING_AND_RAG):
        return ()
    kind = facts.task_kind
    risks = []
    if answers.keep_broad_capabilities:
        risks.append(
            Risk(
                "catastrophic_forgetting",
                "Catastrophic forgetting",
                "Fine-tuning can make the model better at your task and worse at everything "
                "else. Prefer LoRA or QLoRA to full fine-tuning, keep the learning rate low "
                "(1e-4 to 3e-4 for LoRA, 1e-5 to 5e-5 for full), mix a small share of "
                "general-purpose instruction data into the training set, and test general "
                "abilities after every run.",
            )
        )
    need_low, _need_high = guide.EXAMPLES_NEEDED[kind]
    _have_low, have_high = EXPERT_EXAMPLE_COUNTS[answers.expert_examples]
    if have_high is not None and have_high < need_low:
        risks.append(
            Risk(
                "small_or_biased_dataset",
                "Too small a dataset",
                f"The guide suggests at least {need_low:,} examples for this; you have "
                f"{_have_text(answers)}. A small dataset that does not represent the variety of real "
                "inputs can make the model worse, and it may pass evaluation and fail only in "
                "production.",
            )
        )
    elif have_high is not None and have_high < guide.SMALL_DATASET_EXAMPLES:
        risks.append(
            Risk(
                "small_or_biased_dataset",
                "Small or biased dataset",
                "With under 1,000 examples, overfitting can begin within a single epoch: watch "
                "validation loss. Make sure the examples match the real mix of inputs, or the "
                "model may excel on your test set and fail in production.",
            )
        )
    if "knowledge_changing" in answers.problems:
        risks.append(
            Risk(
                "static_knowledge",
                "Static knowledge",
                "Your information changes often, and anything trained into the weights is "
                "frozen until you retrain. Keep those facts in the retrieval index; train "
                "only the behaviour.",
            )
        )
    elif facts.needs_knowledge or "domain_reasoning" in answers.problems:
        risks.append(
            Risk(
                "static_knowledge",
                "Static knowledge",
                "Facts in the training examples are frozen at training time and may be "
                "recalled wrongly. Teach behaviour and conventions; supply facts that change "
                "through retrieval.",
            )
        )
    if answers.base_model == "not_checked":
        risks.append(
            Risk(
                "base_model_unchecked",
                "Base model not checked",
                "If the base model cannot do the task at all, fine-tuning will not teach it. "
                "Run your best prompt on a few dozen real inputs before spending on data.",
            )
        )
    return tuple(risks)


# Outcomes ------------------------------------------------------------------------------------


def recommend(answers: Answers) -> Recommendation:
    """Walk the guide's decision framework for these answers."""
    facts = facts_of(answers)
    rule = matching_rule(facts)
    kind = facts.task_kind
    have_low, _have_high = EXPERT_EXAMPLE_COUNTS[answers.expert_examples]
    rate = answers.expert_hourly_rate_usd
    knowledge_reasons = [WHY_RAG[p] for p in KNOWLEDGE_PROBLEMS if p in answers.problems]
    behaviour_reasons = [WHY_FINE_TUNING[p] for p in BEHAVIOUR_PROBLEMS if p in answers.problems]
    eval_steps = (
        "Measure it on 100-200 representative test inputs with ideal answers, and keep the "
        "results as the baseline."
    )
    rag_steps = (
        "Collect the documents, split them into passages and build a retrieval index.",
        "Put the retrieved passages into the prompt and ask the model to answer from them and "
        "cite them.",
    )
    simple_format = "format_simple" in answers.problems
    format_note = (
        ("The simple format rules can stay in a short system prompt.",) if simple_format else ()
    )
    data_for_later = (
        f" Meanwhile start collecting expert examples: fine-tuning this needs "
        f"{guide.EXAMPLES_NEEDED[kind][0]:,}-{guide.EXAMPLES_NEEDED[kind][1]:,}."
        if kind
        else ""
    )

    if rule.outcome == MORE_CAPABLE_MODEL:
        reasons = [
            "You said the base model cannot do the task even with your best prompt.",
            "Fine-tuning adjusts and refines what a model can already do; it does not create "
            "new capabilities.",
        ]
        if kind:
            reasons.append(
                "Once a stronger model can do the task at least partly, fine-tuning can "
                "sharpen it: answer these questions again then."
            )
        if facts.needs_knowledge:
            reasons.append(
                "Missing facts are still best supplied by retrieval (RAG), whichever model you use."
            )
        return _build(
            answers,
            rule,
            kind,
            headline="Use a more capable base model",
            summary="Fine-tuning will not create an ability the base model lacks; try a "
            "larger or stronger model with your best prompt first.",
            reasons=reasons,
            data=DataNeed(
                None, "No training data yet: 100-200 test inputs to compare candidate models."
            ),
            cost=evaluation_only_cost(
                rate, "Plus the higher price per call, or the bigger GPU, of a larger model."
            ),
            next_steps=(
                "Try two or three more capable models (a larger size of the same family, or a "
                "stronger one) with your best prompt.",
                "Compare them on 100-200 representative test inputs.",
                "Pick the smallest model that does the task at least partly, then answer these "
                "questions again.",
            ),
        )

    if rule.key == "simple_format_only":
        reasons = [
            "The problem is the output format or style, and its rules are simple to state.",
            "Prompt engineering changes behaviour without changing the weights: no training "
            "data, no GPU, nothing to forget.",
        ]
        if facts.prompt_measured:
            reasons.append(
                "Your measured prompt falls short: add few-shot examples and stricter, "
                "structured instructions. If a careful prompt still fails, the format is more "
                "complex than it looks; answer 'too complex to describe in a prompt'."
            )
        return _build(
            answers,
            rule,
            kind,
            headline="Use prompt engineering",
            summary="A simple format or style is what a clear system prompt with a few "
            "examples fixes, at almost no cost and no risk.",
            reasons=reasons,
            data=DataNeed(None, "No training data: 100-200 test inputs to measure the prompt."),
            cost=evaluation_only_cost(
                rate, "No GPU and no training data: the cost is prompt writing and measuring it."
            ),
            next_steps=(
                "Write the rules as a system prompt and add 3-5 examples of ideal answers.",
                "Measure format compliance (the share of answers in the right format) on "
                "100-200 representative inputs.",
                "If it still falls short after a few rounds, come back: a format change needs "
                "only 50-200 fine-tuning examples.",
            ),
        )

    if rule.key == "knowledge_only":
        return _build(
            answers,
            rule,
            kind,
            headline="Use retrieval (RAG)",
            summary="The model lacks knowledge, not behaviour: retrieve the right documents "
            "into the prompt when it answers, rather than training facts into its weights.",
            reasons=[*knowledge_reasons, RAG_OVER_WEIGHTS, *format_note],
            data=DataNeed(
                None,
                "Your documents (the knowledge base) and 100-200 test questions with correct "
                "answers. No training data.",
            ),
            cost=evaluation_only_cost(
                rate, "Plus building and hosting the retrieval index (not estimated here)."
            ),
            next_steps=(
                *rag_steps,
                "Measure answer accuracy on 100-200 real questions with known answers.",
            ),
        )

    if rule.key == "behaviour_prompt_unmeasured":
        return _build(
            answers,
            rule,
            kind,
            headline="Prompt engineering first, then decide on evidence",
            summary="Fine-tuning may well be the answer, but only a measured prompt tells you "
            "whether it is needed and what it must beat.",
            reasons=[
                _prompting_reason(answers),
                *behaviour_reasons,
                _fine_tuning_later(answers, kind, have_low),
            ],
            data=DataNeed(
                None,
                "No training data yet: 100-200 test inputs with ideal answers." + data_for_later,
            ),
            cost=evaluation_only_cost(rate, "No GPU and no training data yet."),
            next_steps=(
                "Write your best prompt: a system prompt, clear rules and 3-5 examples.",
                eval_steps,
                "If it falls short, answer these questions again with 'measured'.",
            ),
        )

    if rule.key == "behaviour_and_knowledge_prompt_unmeasured":
        return _build(
            answers,
            rule,
            kind,
            headline="RAG and a careful prompt first, then decide on fine-tuning",
            summary="Supply the missing knowledge with retrieval now; whether the behaviour "
            "also needs fine-tuning depends on how a measured prompt performs.",
            reasons=[
                *knowledge_reasons,
                _prompting_reason(answers),
                *behaviour_reasons,
                _fine_tuning_later(answers, kind, have_low),
            ],
            data=DataNeed(
                None,
                "Your documents and 100-200 test questions with ideal answers." + data_for_later,
            ),
            cost=evaluation_only_cost(
                rate, "Plus building and hosting the retrieval index (not estimated here)."
            ),
            next_steps=(
                *rag_steps,
                "Write your best prompt around the retrieved passages. " + eval_steps,
                "If the behaviour still falls short, answer these questions again with 'measured'.",
            ),
        )

    # Fine-tuning, alone or with RAG.
    with_rag = rule.outcome == FINE_TUNING_AND_RAG
    need_low, need_high = guide.EXAMPLES_NEEDED[kind]
    first_dataset = "50-200" if kind == "format" else "200-500"
    reasons = [
        *behaviour_reasons,
        *(knowledge_reasons if with_rag else ()),
        *format_note,
        _measured_reason(answers),
        _base_model_reason(answers),
        _broad_reason(answers),
    ]
    if with_rag:
        reasons.append(
            "Fine-tuning and RAG are complementary: train how the model behaves, and keep the "
            "facts in the retrieval index, where they stay current and citable."
        )
    steps = [
        *((rag_steps[0],) if with_rag else ()),
        "Estimate memory, time and cost for your model and GPU.",
        f"Prepare a small first dataset ({first_dataset} examples) written or heavily edited "
        "by experts; keep the evaluation set apart.",
        f"Train QLoRA with rank {guide.LORA_RANK[kind]}, 3 epochs, learning rate 2e-4, and "
        "watch the validation loss.",
        f"Compare with the base model on the evaluation set, blind; improve the data and "
        f"repeat ({guide.ITERATIONS[0]}-{guide.ITERATIONS[1]} iterations).",
    ]
    if answers.keep_broad_capabilities:
        steps.append("After each run, test general abilities too (regression tests).")
    cost = fine_tuning_cost(kind, have_low, rate)
    if with_rag:
        cost = ProjectCost(
            cost.lines, (*cost.notes, "Plus building and hosting the retrieval index.")
        )
    return _build(
        answers,
        rule,
        kind,
        headline="Fine-tune, and use RAG for the knowledge" if with_rag else "Fine-tune",
        summary=(
            "Fine-tune how the model behaves and retrieve what it must know: the two are "
            "complementary."
            if with_rag
            else "Your measured prompt falls short on something only the weights can change: "
            "fine-tune, starting with QLoRA and a small, expert-written dataset."
        ),
        reasons=reasons,
        data=DataNeed((need_low, need_high), _data_versus_need(answers, kind)),
        cost=cost,
        next_steps=tuple(steps),
    )


def _build(answers, rule, kind, *, headline, summary, reasons, data, cost, next_steps):
    facts = facts_of(answers)
    fine_tuning = rule.outcome in (FINE_TUNING, FINE_TUNING_AND_RAG)
    return Recommendation(
        outcome=rule.outcome,
        rule=rule.key,
        headline=headline,
        summary=summary,
        reasons=tuple(reasons),
        risks=_risks(answers, facts, rule.outcome),
        data=data,
        cost=cost,
        next_steps=tuple(next_steps),
        task_kind=kind,
        preset_lora_r=guide.LORA_RANK[kind] if fine_tuning else None,
    )
