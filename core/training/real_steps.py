"""A few real optimizer steps of our trainer, built as a run builds it.

The one place that makes the SFTTrainer for N steps without saving: the run's SFT
arguments, LoRA targets, adapter dtype and memory savers. Pre-flight measures the longest
batch with it; the simulation (core.training.simulate) runs it over FakeTensors on a
pretend GPU. The caller loads the model, adds what it watches (a timing callback, a memory
tracker) and calls `trainer.train()`.
"""

from __future__ import annotations

from pathlib import Path

from core.recipe.config import TrainConfig
from core.training.device import DevicePlan
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

    run = config.replace(max_steps=steps, warmup_ratio=0.0, preflight=False)
    schedule = Schedule(
        log_every=log_every,
        eval_every=0,
        save_every=10**9,
        keep_checkpoints=1,
        load_best_at_end=False,
    )
    kwargs, _notes = build_sft_kwargs(run, plan, schedule, output_dir, False, 0)
    kwargs["save_strategy"] = "no"
    kwargs.update(extra_args or {})
    trainer = SFTTrainer(
        model=model,
        args=build_sft_config(**kwargs),
        train_dataset=dataset,
        peft_config=lora_config(run, resolve_targets(run, model))
        if run.is_adapter_method
        else None,
        **trainer_tokenizer_kwarg(tokenizer),
    )
    drop_console_printer(trainer)
    match_adapter_dtype(trainer.model, plan)
    apply_memory_savers(trainer, run, plan.device, check_host_ram=check_host_ram)
    return trainer
