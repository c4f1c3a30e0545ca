"""What to say when a run runs out of memory: the reason, what is kept, the settings that
would fit (as an advice card whose action applies the mildest of them).

Two ways to run out: the accelerator raises out-of-memory inside a step, or our memory guard
stops the run before the system would have killed the app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.estimate.fit import suggest_for_recipe
from core.recipe.config import TrainConfig
from core.runs import record as runs
from core.runs.records import ERROR, Advice
from core.training.observer import FAILED, STOPPED, RunResult
from core.training.run_finish import finish

if TYPE_CHECKING:
    from core.training.session_state import SessionState


def out_of_memory(
    session: SessionState, first_line: str, config: TrainConfig, trainer, logic
) -> RunResult:
    """The accelerator ran out inside a step: fail the run, keep its checkpoints."""
    step = int(trainer.state.global_step) if trainer is not None else 0
    peak = session.recorder.peak_memory if session.recorder else None
    memory_kind = session.recorder.memory_kind if session.recorder else ""
    # The fit engine's remedies; the device's out-of-memory says nothing about sizes.
    suggestions = suggest_for_recipe(config, "cpu" if memory_kind == "cpu-rss" else "cuda")
    session.suggestions = [s.as_dict() for s in suggestions]
    latest = runs.latest_checkpoint(session.folder)
    reason = (
        f"Out of memory at step {step} ({first_line}). Try: "
        + "; ".join(s.label for s in suggestions)
        + "."
        + (f" The checkpoint {latest.name} is kept." if latest else "")
    )
    _advise(session, step, "Out of memory", reason, suggestions, {"peak_memory_bytes": peak})
    return finish(session, FAILED, reason, trainer, logic)


def memory_stopped(session: SessionState, config: TrainConfig, trainer, logic) -> RunResult:
    """The memory guard stopped the run: keep the checkpoint, say what to change."""
    session.close_memory_guard()
    step = int(trainer.state.global_step) if trainer is not None else 0
    # The guard watches RAM: the fit engine puts the sequence length first there.
    suggestions = suggest_for_recipe(config, "cpu")
    session.suggestions = [s.as_dict() for s in suggestions]
    latest = runs.latest_checkpoint(session.folder) if session.folder else None
    where = f"at step {step}" if step else "before the first training step"
    kept = (
        f" The checkpoint of step {latest.name.rsplit('-', 1)[-1]} is kept."
        if latest
        else " There is no checkpoint yet, so start it again with the settings below."
    )
    remedies = "; ".join(s.label for s in suggestions)
    if config.method == "full":
        remedies += "; LoRA or QLoRA instead of full fine-tuning"
    then = " Then Continue run resumes it with them." if latest else ""
    reason = (
        f"Out of memory: the memory guard stopped the run {where}, before the system "
        f"would have closed the app: {session.memory_stop_reason}.{kept} Less memory: "
        f"{remedies}.{then}"
    )
    peak = session.memory_guard.peak_rss_bytes if session.memory_guard is not None else None
    _advise(session, step, "Stopped: out of memory", reason, suggestions, {"peak_rss_bytes": peak})
    return finish(session, STOPPED, reason, trainer, logic)


def _advise(session: SessionState, step, title, reason, suggestions, details) -> None:
    """The out-of-memory card: the reason, and the mildest fitting change as its action."""
    if session.recorder is None:
        return
    session.recorder.add_advice(
        Advice(
            step=step,
            severity=ERROR,
            kind="out_of_memory",
            title=title,
            message=reason,
            action="apply_settings" if suggestions else "",
            action_label=suggestions[0].label if suggestions else "",
            details={"suggestions": session.suggestions, **details},
        )
    )
