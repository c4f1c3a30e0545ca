"""The pages of the main window, in the order of the fine-tuning workflow.

A page lives in desktop/<name>/page.py and defines `create_page(context) -> QWidget`.
Only pages whose module exists are listed (no fake pages), and each is imported and
built the first time it is shown, so the window appears without their imports.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    name: str
    title: str
    tooltip: str


WORKFLOW = (
    PageSpec("project", "Project", "The open project, this machine and the base models"),
    PageSpec("decide", "Decide", "Prompting, RAG or fine-tuning? A guided decision"),
    PageSpec("estimate", "Estimate", "Memory, time and cost of full, LoRA and QLoRA"),
    PageSpec("dataset", "Dataset", "Edit, import, validate and version the training data"),
    PageSpec("training", "Train", "Train and watch the loss curves live"),
    PageSpec("evaluation", "Evaluate", "Baseline against fine-tuned, with evidence"),
    PageSpec("chat", "Chat", "Talk to the base and fine-tuned models side by side"),
    PageSpec("runs", "Runs", "Every run, compared, with what it cost"),
)


def available_pages() -> list[PageSpec]:
    found = []
    for spec in WORKFLOW:
        try:
            present = importlib.util.find_spec(f"desktop.{spec.name}.page") is not None
        except ModuleNotFoundError:
            present = False
        if present:
            found.append(spec)
    return found


def page_names() -> list[str]:
    return [spec.name for spec in available_pages()]


def create_page(name: str, context):
    module = importlib.import_module(f"desktop.{name}.page")
    return module.create_page(context)
