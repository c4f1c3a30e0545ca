"""The wizard's questions and their options, as data, in the words of the fine-tuning guide.

The GUI, the CLI and the validation of saved answers all read these, so an option's
label, its explanation (shown as help and tooltip) and its allowed value live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Option:
    value: object
    label: str
    help: str


@dataclass(frozen=True)
class Question:
    key: str  # the Answers field it fills
    title: str  # a short name for the step
    prompt: str  # the question itself
    help: str  # why we ask
    options: tuple[Option, ...]
    multiple: bool = False  # tick all that apply

    def option(self, value: object) -> Option:
        for option in self.options:
            if option.value == value:
                return option
        raise KeyError(value)

    @property
    def values(self) -> tuple[object, ...]:
        return tuple(option.value for option in self.options)


PROBLEMS = Question(
    key="problems",
    title="What is wrong",
    prompt="What is wrong with the model's answers today? Tick all that apply.",
    help=(
        "Different problems have different cures: prompting fixes simple format and tone, "
        "retrieval (RAG) supplies missing knowledge, and fine-tuning changes how the model "
        "behaves."
    ),
    multiple=True,
    options=(
        Option(
            "format_simple",
            "The format or style is wrong, and the rules are simple to state",
            "For example: always answer in JSON, use a formal tone, keep it short. A clear "
            "system prompt with a few examples usually fixes this.",
        ),
        Option(
            "format_complex",
            "The format or style is wrong, and it is too complex to describe in a prompt",
            "A house style, a long structured document, a voice that few-shot examples do not "
            "capture. Fine-tuning can teach a format or style that a prompt cannot.",
        ),
        Option(
            "knowledge_missing",
            "It lacks facts it needs (our documents, products, domain material)",
            "Proprietary data or documents that were not in its training data. Retrieval "
            "(RAG) puts the right passages into the prompt when it answers, with sources; it "
            "is cheaper and easier to maintain than training facts into the weights.",
        ),
        Option(
            "knowledge_changing",
            "It needs information that changes often (prices, stock, policies, events)",
            "Knowledge trained into the weights is frozen and needs retraining to update; a "
            "retrieval index can be refreshed in minutes.",
        ),
        Option(
            "domain_reasoning",
            "It must work like an expert in our field, with its terminology and conventions",
            "For example medical coding or legal drafting: not only facts, but how the field "
            "reasons and writes. This is domain adaptation, which fine-tuning does well.",
        ),
        Option(
            "complex_behaviour",
            "It must learn a complex new behaviour or reasoning pattern",
            "Multi-step procedures or judgement that instructions and examples in a prompt "
            "cannot teach. This needs the most training data.",
        ),
        Option(
            "prompt_too_long",
            "A prompt works, but it is too long, slow or expensive",
            "Fine-tuning can bake the prompt's instructions into the weights, so every call "
            "sends fewer tokens and answers sooner.",
        ),
    ),
)

PROMPT_ENGINEERING = Question(
    key="prompt_engineering",
    title="Prompting",
    prompt="Have you tried prompt engineering, and measured the result?",
    help=(
        "Prompt engineering (system prompts, few-shot examples, structured instructions) is "
        "the lowest-cost, lowest-risk start. Many teams fine-tune too early and spend "
        "thousands on what a well-crafted prompt could have done."
    ),
    options=(
        Option(
            "not_tried",
            "Not yet",
            "Start there: it changes the model's behaviour without changing its weights, "
            "at almost no cost.",
        ),
        Option(
            "tried_not_measured",
            "Yes, but we judged the answers by eye",
            "A handful of answers read by eye is not enough to decide. Run your best prompt "
            "over 100-200 representative test inputs first: that is the baseline any "
            "fine-tuned model has to beat.",
        ),
        Option(
            "measured",
            "Yes, and we measured it on representative test inputs",
            "You ran your best prompt over a test set that looks like real use, and you know "
            "where it falls short or what it costs.",
        ),
    ),
)

BASE_MODEL = Question(
    key="base_model",
    title="Base model",
    prompt=(
        "With your best prompt (and the facts it needs pasted in), can the base model do "
        "the task at all?"
    ),
    help=(
        "Fine-tuning adjusts and refines what a model can already do; it does not create "
        "new capabilities. If a model cannot do multi-step maths when prompted well, "
        "training it on maths examples will not make it a mathematician."
    ),
    options=(
        Option(
            "yes",
            "Yes, at least partly: it is adequate but not good enough",
            "The right starting point for fine-tuning: the ability is there and needs sharpening.",
        ),
        Option(
            "no",
            "No, not even with our best prompt",
            "Then fine-tuning is unlikely to help: try a more capable base model first.",
        ),
        Option(
            "not_checked",
            "We have not checked",
            "Check before spending anything: give it your best prompt and the facts it needs, "
            "on a few dozen real inputs.",
        ),
    ),
)

EXPERT_EXAMPLES = Question(
    key="expert_examples",
    title="Expert data",
    prompt=(
        "How many examples of ideal answers, written or carefully edited by people who know "
        "the subject, do you have (or can your experts write)?"
    ),
    help=(
        "Data quality matters far more than quantity: 200 curated, expert-reviewed examples "
        "beat 10,000 hasty ones. Answers generated by the base model and lightly edited "
        "teach it little. Simple format changes need 50-200 examples, domain adaptation "
        "500-2,000, new reasoning patterns 2,000-10,000."
    ),
    options=(
        Option("none", "None yet", "You would start from zero; the data is then the main cost."),
        Option("under_50", "Fewer than 50", "Enough to measure a prompt, rarely enough to train."),
        Option("50_to_200", "50-199", "Enough for a simple format or style change."),
        Option("200_to_500", "200-499", "A good first dataset: start small, then iterate."),
        Option("500_to_2000", "500-1,999", "Enough for most domain adaptation."),
        Option("2000_to_10000", "2,000-9,999", "Enough even for new reasoning patterns."),
        Option("over_10000", "10,000 or more", "Plenty; check it is consistent and reviewed."),
    ),
)

# The number of examples each answer stands for: (at least, at most); None = no upper bound.
EXPERT_EXAMPLE_COUNTS: dict[str, tuple[int, int | None]] = {
    "none": (0, 0),
    "under_50": (1, 49),
    "50_to_200": (50, 199),
    "200_to_500": (200, 499),
    "500_to_2000": (500, 1_999),
    "2000_to_10000": (2_000, 9_999),
    "over_10000": (10_000, None),
}

KEEP_BROAD_CAPABILITIES = Question(
    key="keep_broad_capabilities",
    title="Other skills",
    prompt="Must the model stay good at other things besides this task?",
    help=(
        "Fine-tuning can make a model better at your task and worse at everything else "
        "(catastrophic forgetting). Full fine-tuning carries the higher risk; LoRA and QLoRA "
        "leave the original weights untouched."
    ),
    options=(
        Option(
            True,
            "Yes, it must keep its general abilities",
            "For example an assistant that also chats, summarises or writes code. Plan for "
            "LoRA or QLoRA, a low learning rate, some general-purpose data mixed in, and "
            "regression tests on general tasks.",
        ),
        Option(
            False,
            "No, it only has to do this one task",
            "Forgetting matters less; full fine-tuning becomes an option when it fits your "
            "GPU and the data justifies the cost.",
        ),
    ),
)

QUESTIONS: tuple[Question, ...] = (
    PROBLEMS,
    PROMPT_ENGINEERING,
    BASE_MODEL,
    EXPERT_EXAMPLES,
    KEEP_BROAD_CAPABILITIES,
)


def question(key: str) -> Question:
    for item in QUESTIONS:
        if item.key == key:
            return item
    raise KeyError(key)
