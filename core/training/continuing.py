"""Continuing a run from its last checkpoint: whether it can be, and with which settings.

A run that ran out of memory continues with the memory settings the user changed since
(after applying the advice); any other run continues with its own settings.
"""

from __future__ import annotations

from core.methods import METHODS
from core.recipe.config import TrainConfig
from core.runs.record import RunInfo, RunState, load_run

# Changing these is how a run that ran out of memory continues with less.
MEMORY_FIELDS = (
    "micro_batch_size",
    "gradient_accumulation",
    "gradient_checkpointing",
    "max_seq_length",
    "memory_stop_available_percent",
    "memory_stop_rss_percent",
)


def why_not_resumable(project, run_id: str) -> str:
    """Why Continue cannot resume this run ("" when it can)."""
    try:
        run = load_run(project, run_id)
    except Exception as error:
        return f"Cannot continue: {error}"
    if run.resumable:
        return ""
    if run.status == RunState.FINISHED:
        return "This run has finished: there is nothing to continue. Start a new run."
    if run.status == RunState.RUNNING:
        return "This run is training right now (in this or another window)."
    return (
        f"This run {run.status} before its first checkpoint was saved, so there is nothing "
        "to continue from: start it again (Start training)."
    )


CONTINUE_TIP = (
    "Resume this run from its last checkpoint (a run that ran out of memory continues with "
    "the memory settings now on the left)"
)


def why_not_continue(project, run_id: str, training: bool) -> str:
    """Why the Continue button is off for the chosen run ("" when it can continue);
    `training`: a run of this window is training now."""
    if not run_id:
        return "No run chosen: pick a stopped, failed or interrupted run above."
    if training:
        return "A run is training; continue another one when it has ended."
    return why_not_resumable(project, run_id)


def adapter_sources(runs: list[RunInfo]) -> list[tuple[str, str]]:
    """(label, run id) of the finished runs whose LoRA adapter a stage (SFT on more data,
    DPO or GRPO) may continue from."""
    return [
        (f"{run.name} ({run.run_id})", run.run_id)
        for run in runs
        if run.status == RunState.FINISHED and METHODS[run.method].trains_adapters
    ]


def continue_config(project, run_id: str, current: TrainConfig | None) -> TrainConfig | None:
    """The settings to continue `run_id` with: its own with the memory fields of `current`
    (the form) for a run that ran out of memory; None means its own settings unchanged."""
    try:
        run = load_run(project, run_id)
        if not (run.reason or "").startswith("Out of memory") or current is None:
            return None
        own = run.config()
        changes = {
            name: getattr(current, name)
            for name in MEMORY_FIELDS
            if getattr(current, name) != getattr(own, name)
        }
        return own.replace(**changes) if changes else None
    except Exception:
        return None
