"""How many steps a run has, and when it logs, evaluates and saves checkpoints.

The number of training rows is only known once TRL has packed the data, so the schedule
is resolved after the trainer is built and written into its arguments before training
starts (the Trainer reads them at train() time).
"""

from __future__ import annotations

import functools
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


def warmup_steps_for(config: TrainConfig, max_steps: int) -> int:
    """Warmup steps as transformers counts them: our warmup_ratio reaches the trainer as a
    fractional warmup_steps, which TrainingArguments.get_warmup_steps rounds up."""
    if config.warmup_ratio <= 0:
        return 0
    return math.ceil(max_steps * config.warmup_ratio)


def _one_step_on(multiplier, step: int) -> float:
    return multiplier(step + 1)


def scheduler_from_first_step(
    name: str, optimizer, warmup_steps: int, total_steps: int, scheduler_kwargs: dict | None = None
):
    """transformers' learning-rate schedule `name`, with a warmup whose first step is
    already above 0.

    transformers' linear warmup multiplies the learning rate by step / warmup_steps, so
    optimizer step 0 runs at learning rate 0: one update wasted, and on a short run (3
    steps) a third of the training. Here warmup w rises 1/(w+1), ..., w/(w+1), then the
    decay runs exactly as transformers' own: it is their schedule for w+1 warmup and
    total+1 steps, read one step ahead. Without warmup it is their schedule unchanged.
    """
    from torch.optim.lr_scheduler import LambdaLR  # heavy: loaded when a run starts
    from transformers import get_scheduler  # heavy: loaded when a run starts

    kwargs = dict(scheduler_kwargs or {})
    if warmup_steps <= 0:
        return get_scheduler(
            name,
            optimizer,
            num_warmup_steps=0,
            num_training_steps=total_steps,
            scheduler_specific_kwargs=kwargs,
        )
    reference = get_scheduler(
        name,
        optimizer,
        num_warmup_steps=warmup_steps + 1,
        num_training_steps=total_steps + 1,
        scheduler_specific_kwargs=kwargs,
    )
    return LambdaLR(optimizer, [functools.partial(_one_step_on, f) for f in reference.lr_lambdas])


def learning_rates(config: TrainConfig, total_steps: int, steps: int | None = None) -> list[float]:
    """The learning rate of each optimizer step (the first `steps` of them), from the same
    scheduler the trainer uses."""
    import torch  # heavy: loaded when a plan is made

    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=config.effective_learning_rate)
    scheduler = scheduler_from_first_step(
        config.lr_scheduler, optimizer, warmup_steps_for(config, total_steps), total_steps
    )
    count = total_steps if steps is None else min(steps, total_steps)
    multiplier = scheduler.lr_lambdas[0]
    return [config.effective_learning_rate * multiplier(step) for step in range(count)]


def start_warmup_above_zero(trainer) -> None:
    """Make `trainer` build its scheduler with scheduler_from_first_step.

    The Trainer creates its scheduler inside train(), from its arguments, only when none
    exists; this replaces that one creation (resuming loads the saved state into it)."""

    def create_scheduler(num_training_steps: int, optimizer=None):
        if trainer.lr_scheduler is None:
            args = trainer.args
            trainer.lr_scheduler = scheduler_from_first_step(
                args.lr_scheduler_type,
                optimizer if optimizer is not None else trainer.optimizer,
                args.get_warmup_steps(num_training_steps),
                num_training_steps,
                args.lr_scheduler_kwargs,
            )
            trainer._created_lr_scheduler = True
        return trainer.lr_scheduler

    trainer.create_scheduler = create_scheduler
