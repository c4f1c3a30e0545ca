"""A corrected chat answer as a preference pair for DPO: the user's correction is chosen,
the model's original answer rejected, both to the conversation as that model saw it."""

from __future__ import annotations

from core.chat.examples import example_record
from core.chat.store import Conversation
from core.dataset.preferences import PreferencePair, pair_from_conversations


def preference_pair_from_correction(
    conversation: Conversation, position: int, side: int, corrected: str
) -> PreferencePair:
    """Turn `position` of `side`: `corrected` chosen over the stored answer. Raises
    LookupError without a stored answer and ValueError when the correction is empty or
    the same as the model's answer (a pair that would teach nothing)."""
    original = example_record(conversation, position, side)["messages"]
    better = example_record(conversation, position, side, answer=corrected)["messages"]
    if original[-1]["content"].strip() == corrected.strip():
        raise ValueError("The correction is the model's own answer; change it first.")
    return pair_from_conversations(
        better, original, source=f"chat {conversation.id} turn {position + 1}"
    )
