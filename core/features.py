"""The product's features, in the order the user meets them, and how their parts are found.

Each feature keeps the same shape: core/<name>/ holds its logic and may offer
`schema.py` (database migrations), `cli.py` (`register(subparsers)`), and `demo.py`
(`populate(project)` for the demo project); desktop/<name>/page.py holds its page.
A feature that has not landed simply has no such module, so nothing fake is shown.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

FEATURES = (
    "decide",
    "estimate",
    "dataset",
    "training",
    "evaluation",
    "runs",
    "export",
    "scaleout",
    "chat",
)


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
    """Every landed feature's `core.<feature>.<part>` module, in feature order."""
    found = []
    for feature in FEATURES:
        module = feature_module("core", feature, part)
        if module is not None:
            found.append((feature, module))
    return found
