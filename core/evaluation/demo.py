"""The demo project's eval set: the bundled example dataset's validation split.

Nothing is generated here (that takes minutes); the Evaluate page opens with the eval
set chosen, ready for the user to run the baseline first.
"""

from __future__ import annotations

from pathlib import Path

from core.dataset.versions import latest_version
from core.evaluation.eval_set import (
    EvalSetError,
    eval_set_from_dataset_version,
    load_eval_set_file,
)
from core.evaluation.store import save_eval_set
from core.training.cli import bundled_example_dataset

DEMO_EVAL_SET_NAME = "Demo support tickets (validation)"


def _demo_eval_set(project):
    try:
        version = latest_version(project)
        if version is not None and version.n_valid:
            return eval_set_from_dataset_version(project, version.id, DEMO_EVAL_SET_NAME)
    except (EvalSetError, LookupError):
        pass
    try:
        _, valid = bundled_example_dataset()
    except FileNotFoundError:
        return None
    if valid is None or not Path(valid).is_file():
        return None
    try:
        return load_eval_set_file(valid, DEMO_EVAL_SET_NAME)
    except EvalSetError:
        return None


def populate(project) -> None:
    """Store the demo eval set, when the bundled dataset is there to take it from."""
    eval_set = _demo_eval_set(project)
    if eval_set is not None:
        save_eval_set(project, eval_set)
