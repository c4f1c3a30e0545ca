"""A user's own Python reward: a function in a file, run only after explicit trust.

The same trust as a model folder's own code (core.models.remote_code): the folder that
holds the file is trusted with a hash of its .py files, so an edited file asks again.
Without it nothing of the file is imported and the run stops with the command to trust it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from core.models.remote_code import trust_problem


class UntrustedRewardError(ValueError):
    """A reward file whose folder the user has not trusted (nothing of it was run)."""


def trusted_reward_file(file: str) -> Path:
    """The reward file's path once it is a .py file in a trusted folder; nothing of it is
    run. ValueError (UntrustedRewardError) says what to do otherwise."""
    if not str(file).strip():  # resolved, an empty path names the working folder
        raise ValueError(
            "no file given: choose the .py file with your function reward(answer, reference)."
        )
    path = Path(file).expanduser().resolve()
    if not path.is_file() or path.suffix != ".py":
        raise ValueError(f"{path} is not a Python file; give the reward's .py file.")
    problem = trust_problem(path.parent)
    if problem is not None:
        raise UntrustedRewardError(
            f"{path}: your own reward code runs only once you trust its folder ({problem}); "
            f"nothing was run. If you wrote it or trust where it came from: "
            f"`finetune-studio models trust {path.parent}`."
        )
    return path


def load_user_reward(file: str, function: str = "reward"):
    """The callable `function(answer: str, reference: str | None) -> float` from `file`,
    once its folder is trusted; ValueError for a missing file or function."""
    path = trusted_reward_file(file)
    spec = importlib.util.spec_from_file_location(f"finetune_studio_reward_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    scorer = getattr(module, function, None)
    if not callable(scorer):
        raise ValueError(f"{path} has no function {function}(answer, reference).")
    return scorer


class UserReward:
    """A trusted user function as a preset: its exceptions and non-numbers score 0."""

    def __init__(self, file: str, function: str = "reward") -> None:
        self.file = file
        self.function = function
        self._scorer = load_user_reward(file, function)

    def score(self, text: str, reference: str | None) -> float:
        try:
            value = float(self._scorer(text, reference))
        except Exception:  # the user's code: any failure is a 0, never a stopped run
            return 0.0
        return value if value == value and abs(value) != float("inf") else 0.0

    def describe(self) -> str:
        return f"{self.function}() in {Path(self.file).name}"
