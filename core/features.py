"""The product's features, in the order the user meets them, and how their parts are found.

This is the one list of features: the main window's pages (desktop/pages.py) and core's
feature parts both read it. Each feature keeps the same shape: core/<name>/ holds its logic
and may offer `schema.py` (database migrations), `cli.py` (`register(subparsers)`), and
`demo.py` (`populate(project)` for the demo project); desktop/<name>/page.py holds its page.
A feature without such a module simply has none, so nothing fake is shown.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Feature:
    name: str  # the folder under desktop/ (and core/, unless `core` names another)
    title: str  # what the navigation shows
    tooltip: str
    # The Runs page's logic is core/history: core/runs is the run record itself, which
    # sits low in the house because training writes it and evaluation reads it.
    core: str = ""

    @property
    def core_package(self) -> str:
        return self.core or self.name


# The project is the home the features plug into rather than a feature with parts of its
# own: core/project builds the database and the demo from the features' parts.
PROJECT = Feature("project", "Project", "The open project, this machine and the base models")

FEATURES = (
    Feature("decide", "Decide", "Prompting, RAG or fine-tuning? A guided decision"),
    Feature("estimate", "Estimate", "Memory, time and cost of full, LoRA and QLoRA"),
    Feature("dataset", "Dataset", "Edit, import, validate and version the training data"),
    Feature("training", "Train", "Train and watch the loss curves live"),
    Feature("evaluation", "Evaluate", "Baseline against fine-tuned, with evidence"),
    Feature("chat", "Chat", "Talk to the base and fine-tuned models side by side"),
    Feature("runs", "Runs", "Every run, compared, with what it cost", core="history"),
    Feature("export", "Export", "Merge, convert and package a trained model"),
    Feature("scaleout", "Scale out", "Run the same training on rented GPUs"),
)

# In workflow order: what the main window's navigation lists (where a page exists).
WORKFLOW = (PROJECT, *FEATURES)


def feature_module(package: str, feature: str, part: str) -> ModuleType | None:
    """Import `<package>.<feature>.<part>` if that module exists, else return None."""
    name = f"{package}.{feature}.{part}"
    try:
        if importlib.util.find_spec(f"{package}.{feature}") is None:
            return None
        if importlib.util.find_spec(name) is None:
            return None
    except ModuleNotFoundError:
        return None
    return importlib.import_module(name)


def core_parts(part: str) -> list[tuple[str, ModuleType]]:
    """Every feature's `core.<feature>.<part>` module, in feature order."""
    found = []
    for feature in FEATURES:
        module = feature_module("core", feature.core_package, part)
        if module is not None:
            found.append((feature.name, module))
    return found
