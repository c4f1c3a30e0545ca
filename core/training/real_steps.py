"""A few real optimizer steps of our trainer, built as a run builds it.

The one place that makes the SFTTrainer (steps_trainer) or the DPOTrainer
(dpo_steps_trainer) for N steps without saving: the run's arguments, LoRA targets, adapter
dtype and memory savers. Pre-flight measures the longest batch with them; the simulation
(core.training.simulate) runs them over FakeTensors on a pretend GPU. The caller loads the
model, adds what it watches (a timing callback, a memory tracker) and calls
`trainer.train()`. A stage whose trainer is built elsewhere gets its arguments for N steps
from steps_arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.recipe.config import TrainConfig
from core.training.device import DevicePlan
from core.training.dpo_args import build_dpo_kwargs
from core.training.lora_targets import resolve_targets
from core.training.memory_savers import apply_memory_savers
from core.training.model_loading import drop_console_printer, lora_config, match_adapter_dtype
from core.training.sft_args import (
    Schedule,
    build_sft_config,
    build_sft_kwargs,
    trainer_tokenizer_kwarg,
)


def steps_trainer(
    config: TrainConfig,
    plan: DevicePlan,
    model,
    dataset,
    tokenizer,
    output_dir: Path,
    steps: int,
    *,
    log_every: int = 1,
    check_host_ram: bool = True,
    extra_args: dict | None = None,
):
    """An SFTTrainer that trains `model` for `steps` optimizer steps on `dataset` (rows of
    input_ids and labels), with everything a run of `config` on `plan` would set."""
    from trl import SFTTrainer  # heavy: imported when steps are run, not with the window

    run, kwargs = steps_arguments(
        config, plan, steps, output_dir, _sft_kwargs, log_every=log_every, extra_args=extra_args
    )
    trainer = SFTTrainer(
        model=model,
        args=build_sft_config(**kwargs),
        train_dataset=dataset,
        peft_config=_peft_config(run, model),
        **trainer_tokenizer_kwarg(tokenizer),
    )
    return _as_a_run_has_it(trainer, run, plan, check_host_ram)


def dpo_steps_trainer(
    config: TrainConfig,
    plan: DevicePlan,
    model,
    dataset,
    tokenizer,
    output_dir: Path,
    steps: int,
    *,
    ref_model=None,
    log_every: int = 1,
    check_host_ram: bool = True,
    extra_args: dict | None = None,
):
    """A DPOTrainer that trains `model` for `steps` optimizer steps on `dataset` (rows of
    prompt, chosen and rejected), with DPO's arguments (dpo_setup.build_dpo_kwargs) and
    everything else a run of `config` on `plan` would set. ref_model None is the run's
    reference: with LoRA the adapter disabled, full fine-tuning TRL's frozen copy; a `model`
    with a continued adapter (start_from.load_policy_model) trains it and TRL copies it as
    the reference, as in the run."""
    # trl is heavy: imported when steps are run, not with the window
    from trl import DPOConfig, DPOTrainer

    run, kwargs = steps_arguments(
        config,
        plan,
        steps,
        output_dir,
        build_dpo_kwargs,
        log_every=log_every,
        extra_args=extra_args,
    )
    trainer = DPOTrainer(
        model=model,
        ref_model=ref_model,
        args=DPOConfig(**kwargs),
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=_peft_config(run, model),
    )
    return _as_a_run_has_it(trainer, run, plan, check_host_ram)


def steps_arguments(
    config: TrainConfig,
    plan: DevicePlan,
    steps: int,
    output_dir: Path,
    build_kwargs: Callable[..., tuple[dict, list[str]]],
    *,
    log_every: int = 1,
    extra_args: dict | None = None,
) -> tuple[TrainConfig, dict]:
    """The recipe cut to `steps` steps from the first (no warmup, no pre-flight) and its
    stage config's arguments, never saving: build_kwargs(config, plan, schedule,
    output_dir, has_eval) is the stage's mapping (sft_args, dpo_args, grpo_setup's)."""
    run = config.replace(max_steps=steps, warmup_ratio=0.0, preflight=False)
    schedule = Schedule(
        log_every=log_every,
        eval_every=0,
        save_every=10**9,
        keep_checkpoints=1,
        load_best_at_end=False,
    )
    kwargs, _notes = build_kwargs(run, plan, schedule, output_dir, False)
    kwargs["save_strategy"] = "no"
    kwargs.update(extra_args or {})
    return run, kwargs


def _sft_kwargs(config, plan, schedule, output_dir, has_eval) -> tuple[dict, list[str]]:
    return build_sft_kwargs(config, plan, schedule, output_dir, has_eval, warmup_steps=0)


def _peft_config(run: TrainConfig, model):
    """The run's LoraConfig on the model's own module names; None for full fine-tuning and
    for a model that carries its adapter already (a stage continuing a finished run trains
    that adapter, as stage_trainer.load_policy gives it, never a new one)."""
    if not run.is_adapter_method or getattr(model, "peft_config", None):
        return None
    return lora_config(run, resolve_targets(run, model))


def _as_a_run_has_it(trainer, run: TrainConfig, plan: DevicePlan, check_host_ram: bool):
    """What finish_trainer sets on a run's trainer that changes its memory and speed."""
    drop_console_printer(trainer)
    match_adapter_dtype(trainer.model, plan)
    apply_memory_savers(trainer, run, plan.device, check_host_ram=check_host_ram)
    return trainer
