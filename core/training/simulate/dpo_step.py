"""Our real DPO step (TRL's DPOTrainer, as dpo_setup builds it) on the simulated GPU.

The same model loading and peak counting as the SFT step (step.run_simulated_steps); the
trainer is the run's DPOTrainer: DPO's own arguments (dpo_setup.build_dpo_kwargs), with
LoRA no reference model (the policy with its adapter disabled), full fine-tuning TRL's
frozen copy. Each row is a preference pair whose prompt plus answer fills max_seq_length on
both sides, so one step holds chosen and rejected of every pair in one batch, then runs the
reference forward beside it, as a real step with the longest pairs does.
Only in the simulation's worker process.
"""

from __future__ import annotations

from pathlib import Path

from core.recipe.config import TrainConfig
from core.training.device import DevicePlan
from core.training.dpo_setup import build_dpo_kwargs
from core.training.lora_targets import resolve_targets
from core.training.memory_savers import apply_memory_savers
from core.training.model_loading import drop_console_printer, lora_config, match_adapter_dtype
from core.training.real_steps import steps_arguments
from core.training.simulate.step import (
    EOS,
    WORD,
    frozen_reference,
    masks_select_every_element,
    run_simulated_steps,
    word_tokenizer,
)

PROMPT_SHARE = 4  # the prompt is a quarter of the row, the answer the rest (either way:
# every token of both sequences goes through the model and the fused LM head)


def preference_rows(config: TrainConfig, steps: int) -> dict[str, list[str]]:
    """Full-length preference pairs in TRL's standard (text) format: prompt + chosen and
    prompt + rejected are max_seq_length tokens each, the answers ending in EOS."""
    seq = config.max_seq_length
    prompt_tokens = max(1, seq // PROMPT_SHARE)
    answer_tokens = seq - prompt_tokens  # EOS included
    prompt = " ".join([WORD] * prompt_tokens)
    answer = " " + " ".join([WORD] * (answer_tokens - 1) + [EOS])
    rows = config.micro_batch_size * config.gradient_accumulation * steps
    return {"prompt": [prompt] * rows, "chosen": [answer] * rows, "rejected": [answer] * rows}


def _unmasked_forward(module) -> None:
    """The pairs are unpadded, so the collator's attention mask is all ones and transformers
    drops it on a GPU (causal SDPA, flash). It decides by reading the mask's values, which a
    FakeTensor has none of; DPOTrainer still counts tokens from the mask, so the batch keeps
    it and only the model's forward goes without."""

    def drop_mask(_module, args, kwargs):
        kwargs.pop("attention_mask", None)
        return args, kwargs

    module.register_forward_pre_hook(drop_mask, with_kwargs=True)


def dpo_steps_trainer(
    config: TrainConfig, plan: DevicePlan, model, output: Path, steps: int, check_host_ram: bool
):
    """The run's DPOTrainer for `steps` optimizer steps over full-length pairs, without
    saving: dpo_setup's arguments and reference, the LoRA targets, adapter dtype and memory
    savers a run applies (trainer_setup.finish_trainer)."""
    # datasets is heavy: loaded when data is tokenized
    from datasets import Dataset

    # trl is heavy: loaded when training starts
    from trl import DPOConfig, DPOTrainer

    run, kwargs = steps_arguments(
        config,
        plan,
        steps,
        output,
        build_dpo_kwargs,
        log_every=10**6,  # no loss is logged: .item() cannot read a FakeTensor
        extra_args={"dataloader_pin_memory": False},
    )
    trainer = DPOTrainer(
        model=model,
        # LoRA: the adapter disabled (as dpo_setup); full: TRL's frozen copy
        ref_model=None if run.is_adapter_method else frozen_reference(model),
        args=DPOConfig(**kwargs),
        train_dataset=Dataset.from_dict(preference_rows(run, steps)),
        processing_class=word_tokenizer(),
        peft_config=lora_config(run, resolve_targets(run, model))
        if run.is_adapter_method
        else None,
    )
    drop_console_printer(trainer)
    masks_select_every_element()
    for module in (trainer.model, trainer.ref_model):  # the reference: full fine-tuning's
        if module is not None:
            _unmasked_forward(module)
    match_adapter_dtype(trainer.model, plan)
    apply_memory_savers(trainer, run, plan.device, check_host_ram=check_host_ram)
    return trainer


def run_simulated_dpo_steps(
    model_config: dict,
    config: TrainConfig,
    steps: int = 2,
    explain: bool = False,
    device: str = "fake",
) -> dict:
    """Peak memory of `steps` optimizer steps of our DPO trainer (see run_simulated_steps)."""
    return run_simulated_steps(
        model_config, config, steps, explain, device, build_trainer=dpo_steps_trainer
    )
