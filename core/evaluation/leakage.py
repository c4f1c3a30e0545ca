"""Eval examples the model was trained on (leakage): their scores measure memory, not skill.

A fine-tuned model is checked against exactly the examples its run trained on: the run's
own configuration is read back and the training split is rebuilt the way the trainer
built it (a dataset version's train split, or the training file minus the validation
share it held out). An eval prompt matches when a training conversation starts with the
same user/assistant turns up to that prompt's last user message (system prompts and
spacing and case ignored, since the baseline prompt often replaces the system message).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.evaluation.eval_set import EvalSet
from core.runs.record import load_run
from core.training.prepare import read_data

SHOWN_EXAMPLES = 10


@dataclass(frozen=True)
class Leakage:
    run_id: str
    training_source: str  # what the run trained on, in words
    n_eval: int
    n_train: int
    leaked: tuple[int, ...]  # eval example indices (0-based) found in the training split

    @property
    def message(self) -> str:
        shown = ", ".join(f"#{i + 1}" for i in self.leaked[:SHOWN_EXAMPLES])
        more = len(self.leaked) - SHOWN_EXAMPLES
        more_text = f" and {more} more" if more > 0 else ""
        return (
            f"{len(self.leaked)} of {self.n_eval} eval examples ({shown}{more_text}) are in the "
            f"training data of run {self.run_id} ({self.training_source}): its scores on them "
            "measure memory, not skill. Evaluate on examples the run never saw (the dataset "
            "version's validation split, or remove these from the eval set)."
        )

    def __len__(self) -> int:
        return len(self.leaked)

    def as_dict(self) -> dict:
        return {
            "run": self.run_id,
            "training_source": self.training_source,
            "n_leaked": len(self.leaked),
            "examples": [i + 1 for i in self.leaked],
            "message": self.message,
        }


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().casefold()


def prompt_key(messages) -> tuple:
    """The conversation's turns (no system messages), normalized, as a comparable key."""
    return tuple(
        (m["role"], _normal(m.get("content") or ""))
        for m in messages
        if isinstance(m, dict) and m.get("role") != "system"
    )


def training_prompt_keys(conversations) -> set[tuple]:
    """Every prefix of each training conversation that ends with a user message."""
    keys: set[tuple] = set()
    for conversation in conversations:
        turns = prompt_key(conversation.messages)
        for end, (role, _text) in enumerate(turns, start=1):
            if role == "user":
                keys.add(turns[:end])
    return keys


def _training_conversations(project, run_id: str):
    """The run's training split as the trainer built it, with its source in words."""
    run = load_run(project, run_id)
    data = read_data(project, run.config())
    if data.source.version_id is not None:
        source = f"dataset version {data.source.version_label or data.source.version_id}"
    else:
        source = f"{data.source.train_path.name}"
    return data.train, source + (", minus the held-out validation share" if data.held_out else "")


def leakage_of_results(project, results) -> list[Leakage]:
    """The leakage of each fine-tuned model among `results` (one per training run)."""
    found, seen = [], set()
    for result in results:
        run_id = result.spec.training_run
        if run_id and run_id not in seen:
            seen.add(run_id)
            leakage = find_leakage(project, result.eval_set, run_id)
            if leakage is not None:
                found.append(leakage)
    return found


def find_leakage(project, eval_set: EvalSet, run_id: str | None) -> Leakage | None:
    """The eval examples that are in run `run_id`'s training split; None when none are
    (or when the run or its data can no longer be found, which nothing can be said about)."""
    if not run_id or project is None:
        return None
    try:
        conversations, source = _training_conversations(project, run_id)
    except (LookupError, ValueError, OSError):
        # The run is not in this project, or its data moved: there is nothing to compare.
        return None
    keys = training_prompt_keys(conversations)
    leaked = tuple(e.index for e in eval_set.examples if prompt_key(e.prompt) in keys)
    if not leaked:
        return None
    return Leakage(run_id, source, len(eval_set.examples), len(conversations), leaked)
