"""The training loop of a run and how it ends: trainer.train(), then a final model, a stop,
a failure with its reason, or an out-of-memory diagnosis.

The third step of a TrainingSession (see session.py). Nothing escapes as an exception:
every way out is a RunResult.
"""

from __future__ import annotations

import logging
import traceback
from typing import TYPE_CHECKING

from core.figures import count_text
from core.recipe.config import TrainConfig
from core.runs.record import read_metrics
from core.training.advisor import advice_after_run
from core.training.callback import StudioCallbackLogic
from core.training.control import RunDeleted, RunStopped, TrainingComplete
from core.training.final_model import save_final_model
from core.training.observer import FAILED, FINISHED, SAVING, STOPPED, RunResult
from core.training.oom_diagnosis import memory_stopped, out_of_memory
from core.training.preflight import is_out_of_memory
from core.training.run_finish import finish
from core.training.run_plan import run_outcome
from core.training.run_setup import SETUP_ERRORS, RunInputs
from core.training.stages import build_stage_trainer

if TYPE_CHECKING:
    from core.training.session_state import SessionState


def train(session: SessionState, inputs: RunInputs) -> RunResult:
    config, plan, checkpoint = inputs.config, inputs.plan, inputs.checkpoint
    trainer = None
    logic = None
    try:
        trainer, logic, max_steps = build_stage_trainer(session, inputs)
        session.report_status(
            "training",
            f"{config.method} on {plan.description}: {count_text(max_steps, 'step')}"
            + (f", resuming from {checkpoint.name}" if checkpoint else ""),
        )
        try:
            output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
            session.train_runtime = float(output.metrics.get("train_runtime", 0.0))
        except TrainingComplete:
            # Resumed from the last step's checkpoint (killed while saving the final model):
            # the weights are that checkpoint's; end as the uninterrupted run ended, with the
            # best checkpoint loaded when the run keeps the best (transformers' own step).
            if trainer.args.load_best_model_at_end and trainer.state.best_model_checkpoint:
                trainer._load_best_model()
        return _conclude(session, trainer, logic, config)
    except RunStopped:
        if session.memory_stop_reason:
            return memory_stopped(session, config, trainer, logic)
        return finish(session, STOPPED, session.control.stop_reason, trainer, logic)
    except SETUP_ERRORS as error:
        return finish(session, FAILED, str(error), trainer, logic)
    except RunDeleted as error:
        return finish(session, FAILED, str(error), trainer, logic)
    except Exception as error:
        if session.memory_stop_reason and isinstance(error, MemoryError):
            # The guard interrupted a step that would not end in time.
            oom_text = ""
        elif not is_out_of_memory(error):
            session.log(traceback.format_exc(), logging.ERROR)
            return finish(
                session, FAILED, f"{type(error).__name__}: {error}".strip(), trainer, logic
            )
        else:
            oom_text = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
            session.log(traceback.format_exc(), logging.ERROR)
    # Handled outside the except block: the traceback's frames hold the activations,
    # and the memory can only be given back once they are gone.
    if session.memory_stop_reason:
        return memory_stopped(session, config, trainer, logic)
    return out_of_memory(session, oom_text, config, trainer, logic)


def _conclude(
    session: SessionState, trainer, logic: StudioCallbackLogic, config: TrainConfig
) -> RunResult:
    """Training returned: diverged, cut short for memory, stopped, or finished."""
    if logic.diverged_reason:
        return finish(session, FAILED, logic.diverged_reason, trainer, logic)
    if session.memory_stop_reason:
        # The checkpoint of the last step is saved; no final model from a run cut short
        # for memory (saving it would need memory too): Continue run resumes it.
        return memory_stopped(session, config, trainer, logic)
    if session.control.stop_requested:
        status, reason = STOPPED, session.control.stop_reason
    elif logic.early_stopped_reason:
        status, reason = FINISHED, logic.early_stopped_reason
    else:
        status, reason = FINISHED, ""
    if session.world.is_main:  # why it may not have learned, with the next run's fix
        outcome = run_outcome(
            config,
            len(trainer.train_dataset),
            int(trainer.state.global_step),
            read_metrics(session.folder),
            trainer.eval_dataset is not None,
        )
        for advice in advice_after_run(outcome):
            session.recorder.add_advice(advice)
    session.report_status(SAVING, "saving the final model")
    final_dir = save_final_model(session, trainer, config)
    return finish(session, status, reason, trainer, logic, final_dir)
