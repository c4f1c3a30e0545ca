"""What the Dataset page says about the dataset being edited: the state line under its
title, whether there is unsaved work, the quit question and the save messages.

Plain text from plain facts, so the wording is decided (and tested) without Qt.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.figures import count_text


@dataclass(frozen=True)
class EditState:
    """The facts about the open dataset that the page's words depend on."""

    is_open: bool
    n_examples: int = 0
    base_label: str | None = None  # the saved version the edits start from, if any
    base_saved_at: str = ""  # ISO time the base version was saved
    clean: bool = True  # no edits since opening or saving (the undo stack is clean)
    saved: bool = False  # the examples are exactly a saved version


def status_line(state: EditState) -> str:
    """The line under the page title: size, base version and whether edits are unsaved."""
    if not state.is_open:
        return "No dataset in this project yet."
    if state.base_label is None:
        where = "not saved as a version yet · edits are autosaved as a draft"
    elif state.clean:
        where = f"{state.base_label} · saved {state.base_saved_at[:10]}"
    else:
        where = f"● unsaved changes to {state.base_label} · autosaved as a draft"
    return f"{state.n_examples:,} examples · {where}"


def has_unsaved_work(state: EditState) -> bool:
    """Edits that are not a saved version (an empty new dataset has nothing to lose)."""
    if not state.is_open or state.saved:
        return False
    return state.base_label is not None or state.n_examples > 0


def save_button_text(state: EditState) -> str:
    return "Saved ✓" if state.base_label is not None and state.saved else "Save as new version…"


def unsaved_question(name: str, base_label: str | None) -> tuple[str, str]:
    """The quit question's text and its explanation of Save / Discard / Cancel."""
    text = (
        f"“{name}” has unsaved changes to {base_label}."
        if base_label is not None
        else f"“{name}” has not been saved as a version yet."
    )
    return text, (
        "Save keeps them as a new version that training can use. Discard throws them "
        "away (saved versions stay as they are). Cancel keeps the app open."
    )


def findings_tab_title(counts: dict[str, int]) -> str:
    """The Findings tab's name: how many errors and warnings wait there (notes don't count)."""
    problems = counts.get("error", 0) + counts.get("warning", 0)
    return f"Findings ({problems:,})" if problems else "Findings"


def saved_message(dataset: str, label: str, n_train: int, n_valid: int) -> str:
    return f"Saved {dataset} {label}: {n_train:,} for training, {n_valid:,} for validation."


def save_refused_message(message: str, n_errors: int) -> str:
    """Why a save did not happen; errors that would break training are pointed to."""
    if n_errors:
        return (
            f"Not saved: {count_text(n_errors, 'error')} would break training. Fix them first "
            "(the Findings tab lists them; click one to go to it)."
        )
    return f"Not saved: {message}"
