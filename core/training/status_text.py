"""How a run's state and its end read to the user, in one line (the Train page's status)."""

from __future__ import annotations

from core.figures import count_text, duration_text
from core.training.observer import FAILED, FINISHED, PAUSED, STOPPED, STOPPING, RunResult

STATE_TITLES = {
    "created": "Starting",
    "preparing": "Preparing",
    "loading": "Loading the model",
    "preflight": "Pre-flight",
    "training": "Training",
    PAUSED: "Paused",
    STOPPING: "Stopping",
    "saving": "Saving",
    FINISHED: "Finished",
    STOPPED: "Stopped",
    FAILED: "Failed",
}


def ended_badly(status: str, reason: str | None) -> bool:
    """A run that failed or ran out of memory: its status line is shown in the bad colour."""
    return status == FAILED or (reason or "").startswith("Out of memory")


def run_choice_text(name: str, status: str, started_at: str | None) -> str:
    """A run in the Train page's run picker: "name · status · 2026-01-31 14:05"."""
    started = (started_at or "")[:16].replace("T", " ")
    return f"{name} · {status} · {started}"


def ended_progress_text(result: RunResult) -> str:
    """The progress bar's text when a run has ended: "stopped · 40 of 150 steps"."""
    if not result.max_steps:
        return result.status
    return f"{result.status} · {result.steps_done:,} of {count_text(result.max_steps, 'step')}"


def status_line(state: str, message: str) -> str:
    """ "Loading the model: ..." - without the title when the message already starts with it
    ("training from step 0" needs no "Training:")."""
    title = STATE_TITLES.get(state, state.title())
    if message.lower().startswith(title.lower()):
        return message[:1].upper() + message[1:]
    return f"{title}: {message}"


def result_text(result: RunResult) -> str:
    """How the run ended, its best validation loss (a GRPO run: its rewards), where the
    model is, and what next."""
    steps = (
        f"{result.steps_done:,} of {count_text(result.max_steps, 'step')}"
        if result.max_steps
        else ""
    )
    parts = []
    if result.status == FINISHED:
        parts.append(f"Finished: {steps} in {duration_text(result.duration_s)}.")
    elif result.status == STOPPED:
        after = f" after {steps}" if steps else ""
        parts.append(f"Stopped{after}. {result.reason}".strip())
    else:
        parts.append(f"Failed: {result.reason}")
    if result.rewards is not None:
        parts.append(result.rewards.text())
    elif result.best_val_loss is not None:
        parts.append(f"Best validation loss {result.best_val_loss:.4f} at step {result.best_step}.")
    if result.final_model_dir is not None:
        parts.append(f"Final model: {result.final_model_dir}")
    if (
        result.status in (STOPPED, FAILED)
        and result.steps_done
        and "Continue run" not in (result.reason or "")
    ):
        parts.append("Continue run resumes it from its last checkpoint.")
    return " ".join(parts)
