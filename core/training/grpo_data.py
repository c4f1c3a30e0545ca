"""A GRPO run's data: prompts with their reference answers, from the same conversations
SFT trains on (a dataset version or a JSONL file).

Each conversation becomes one prompt (its messages before the last assistant reply) and
that reply becomes the reference the reward presets compare with (reference_match; a
conversation that ends on a user turn has no reference). The model writes the answers
itself, so nothing else of the reply is trained on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.recipe.config import TrainConfig, TrainConfigError
from core.rewards.spec import RewardSpec, RewardSpecError, parse_spec
from core.training.conversations import Conversation, TrainingDataError
from core.training.prepare import DatasetSource, read_data


@dataclass(frozen=True)
class PromptExample:
    prompt: list[dict]  # the messages the model answers
    reference: str | None  # the assistant reply the data holds, if any
    line: int | None = None

    def record(self) -> dict:
        return {"prompt": self.prompt, "reference": self.reference}

    @property
    def user_text(self) -> str:
        for message in reversed(self.prompt):
            if message.get("role") == "user" and isinstance(message.get("content"), str):
                return message["content"]
        return ""


def prompt_example(conversation: Conversation) -> PromptExample | None:
    """The prompt and reference of one conversation; None when it has no user turn."""
    messages = conversation.messages
    last = len(messages)
    if messages and messages[-1].get("role") == "assistant":
        last -= 1
    prompt = [dict(m) for m in messages[:last]]
    if not any(m.get("role") == "user" for m in prompt):
        return None
    content = messages[last]["content"] if last < len(messages) else None
    reference = content if isinstance(content, str) else None
    return PromptExample(prompt, reference, conversation.line)


@dataclass
class PreparedPrompts:
    """What run_setup and the GRPO trainer need (PreparedData's surface)."""

    source: DatasetSource
    train: list[PromptExample]
    valid: list[PromptExample]
    held_out: bool
    spec: RewardSpec
    notes: list[str] = field(default_factory=list)

    def stats(self) -> dict:
        return {
            "kind": "prompts",
            "n_train": len(self.train),
            "n_valid": len(self.valid),
            "validation_held_out": self.held_out,
            "n_with_reference": sum(e.reference is not None for e in self.train),
        }

    def records(self, examples: list[PromptExample]) -> list[dict]:
        return [example.record() for example in examples]


def reward_spec(config: TrainConfig) -> RewardSpec:
    """The recipe's rewards, or TrainConfigError on the rewards field."""
    try:
        return parse_spec(config.rewards)
    except RewardSpecError as error:
        raise TrainConfigError("rewards", str(error)) from None


def read_prompt_data(project, config: TrainConfig) -> PreparedPrompts:
    """The run's prompts (conversations' replies kept as references), checked before a
    model loads: the rewards must be readable and the data must hold prompts."""
    spec = reward_spec(config)
    data = read_data(project, config)
    train = [e for e in map(prompt_example, data.train) if e is not None]
    valid = [e for e in map(prompt_example, data.valid) if e is not None]
    if not train:
        raise TrainingDataError(
            data.source.train_path,
            None,
            "no prompts: a GRPO run needs conversations with a user message to answer.",
        )
    notes = list(data.notes)
    needs_reference = [t.name for t in spec.terms if t.kind == "reference_match"]
    missing = sum(e.reference is None for e in train)
    if needs_reference and missing:
        notes.append(
            f"{missing} of {len(train)} prompts have no reference answer; "
            f"{', '.join(needs_reference)} scores 0 on them"
        )
    return PreparedPrompts(data.source, train, valid, data.held_out, spec, notes)
