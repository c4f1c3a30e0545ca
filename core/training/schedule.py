"""How many steps a run has, and when it logs, evaluates and saves checkpoints.

The number of training rows is only known once TRL has packed the data, so the schedule
is resolved after the trainer is built and written into its arguments before training
starts (the Trainer reads them at train() time).
"""

from __future__ import annotations

import math

from core.recipe.config import TrainConfig
from core.training.sft_args import Schedule

AUTO_EVALS_PER_RUN = 20
AUTO_CHECKPOINTS_PER_RUN = 10


def steps_per_epoch(n_rows: int, config: TrainConfig) -> int:
    """Optimizer steps per epoch, as transformers' Trainer counts them."""
    batches = math.ceil(n_rows / config.micro_batch_size)
    return max(1, math.ceil(batches / config.gradient_accumulation))


def total_steps(n_rows: int, config: TrainConfig) -> int:
    if config.max_steps > 0:
        return config.max_steps
    return max(1, math.ceil(config.epochs * steps_per_epoch(n_rows, config)))


def resolve_schedule(
    config: TrainConfig, max_steps: int, has_eval: bool
) -> tuple[Schedule, list[str]]:
    notes = []
    eval_every = 0
    if has_eval:
        eval_every = config.eval_every_steps or max(1, round(max_steps / AUTO_EVALS_PER_RUN))
    if config.checkpoint_every_steps:
        save_every = config.checkpoint_every_steps
    elif has_eval:
        save_every = eval_every
    else:
        save_every = max(1, round(max_steps / AUTO_CHECKPOINTS_PER_RUN))
    load_best = has_eval and config.final_model == "best"
    if load_best and save_every % eval_every:
        # The best model can only be kept if a checkpoint exists at each evaluation.
        rounded = math.ceil(save_every / eval_every) * eval_every
        notes.append(
            f"checkpoint interval {save_every} rounded up to {rounded}, a multiple of the "
            f"evaluation interval {eval_every}, so the best checkpoint can be kept"
        )
        save_every = rounded
    schedule = Schedule(
        log_every=config.log_every_steps,
        eval_every=eval_every,
        save_every=save_every,
        keep_checkpoints=config.keep_checkpoints,
        load_best_at_end=load_best,
    )
    return schedule, notes


def provisional_schedule(config: TrainConfig, has_eval: bool) -> Schedule:
    """Valid placeholder values for building the trainer (replaced by apply_schedule)."""
    return Schedule(
        log_every=config.log_every_steps,
        eval_every=1 if has_eval else 0,
        save_every=1,
        keep_checkpoints=config.keep_checkpoints,
        load_best_at_end=has_eval and config.final_model == "best",
    )


def apply_schedule(args, schedule: Schedule, warmup_steps: int) -> None:
    args.logging_steps = schedule.log_every
    if schedule.eval_every:
        args.eval_steps = schedule.eval_every
    args.save_steps = schedule.save_every
    if isinstance(getattr(args, "warmup_steps", None), int) and not hasattr(args, "warmup_ratio"):
        args.warmup_steps = warmup_steps
