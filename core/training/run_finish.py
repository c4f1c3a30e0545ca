"""Ending a run, whatever ended it: the RunResult, the database row, the observer's
on_finished, the lock released and the trainer's memory given back.

The last step of every TrainingSession (see session.py), also for runs that never began.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from core.figures import count_text
from core.project.events import RUN_FINISHED, announce
from core.runs import record as runs
from core.training.device import free_accelerator_memory, memory_snapshot
from core.training.observer import RunResult

if TYPE_CHECKING:
    from core.training.session_state import SessionState


def finish(
    session: SessionState, status, reason, trainer, logic, final_dir: Path | None = None
) -> RunResult:
    session.close_memory_guard()  # no interrupt while the run is written up
    recorder = session.recorder
    steps = (
        int(trainer.state.global_step)
        if trainer is not None
        else (recorder.steps_done if recorder else 0)
    )
    max_steps = logic.max_steps if logic is not None else 0
    elapsed = logic.clock.elapsed() if logic is not None and logic.clock else 0.0
    duration = session.previous_duration + elapsed
    tokens_seen, rate = 0, None
    if logic is not None and logic.last_tokens is not None:
        tokens_seen = int(logic.last_tokens[0])
        runtime = session.train_runtime or logic.last_tokens[1]
        rate = tokens_seen / runtime if runtime > 0 else None
    peak = recorder.peak_memory if recorder else None
    if trainer is not None and getattr(trainer.args, "device", None) is not None:
        try:
            snap = memory_snapshot(trainer.args.device.type)
            if snap.peak is not None:
                peak = max(peak or 0, snap.peak)
        except Exception:
            pass
    best_checkpoint = runs.best_checkpoint(session.folder) if session.folder else None
    result = RunResult(
        run_id=session.run_id or "",
        folder=session.folder,
        status=status,
        reason=reason,
        final_model_dir=final_dir,
        best_checkpoint=best_checkpoint,
        best_val_loss=recorder.best_val[0] if recorder and recorder.best_val else None,
        best_step=recorder.best_val[1] if recorder and recorder.best_val else None,
        rewards=recorder.rewards.figures() if recorder else None,
        final_val_loss=recorder.last_val if recorder else None,
        final_train_loss=recorder.last_train if recorder else None,
        steps_done=steps,
        max_steps=max_steps,
        duration_s=duration,
        peak_memory_bytes=peak,
        memory_kind=recorder.memory_kind if recorder else "",
        tokens_per_second=rate,
        tokens_seen=tokens_seen,
        train_runtime_s=session.train_runtime,
        bookkeeping_s=logic.bookkeeping_s if logic is not None else 0.0,
        advice=list(recorder.advice) if recorder else [],
        suggestions=list(session.suggestions),
    )
    if session.run_id and recorder is not None and session.world.is_main:
        runs.update_run_row(
            session.project,
            session.run_id,
            status=status,
            status_reason=reason,
            ended_at=runs.now(),
            duration_s=duration,
            steps_done=steps,
            peak_memory_bytes=peak,
            memory_kind=result.memory_kind,
            best_val_loss=result.best_val_loss,
            best_step=result.best_step,
            final_val_loss=result.final_val_loss,
            final_train_loss=result.final_train_loss,
            tokens_per_second=rate,
            final_model_dir=runs.FINAL_DIR if final_dir else "",
        )
        announce(session.project, RUN_FINISHED, session.run_id)
    session.result = result
    session.state = status
    if recorder is not None:
        recorder.status(status, reason or f"{status} after {count_text(steps, 'step')}")
    else:
        session.report_status(status, reason)
    if recorder is not None:
        recorder.notify("on_finished", result)
        recorder.close()
    else:
        try:
            session.observer.on_finished(result)
        except Exception:
            traceback.print_exc()
    if session.run_lock is not None:
        session.run_lock.release()
    if trainer is not None:
        _release(trainer)
    return result


def _release(trainer) -> None:
    """Drop the trainer's references to the model and optimizer and empty the cache."""
    device = trainer.args.device.type
    trainer.model = None
    trainer.model_wrapped = None
    trainer.optimizer = None
    trainer.lr_scheduler = None
    free_accelerator_memory(device)
