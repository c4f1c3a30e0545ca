"""Our real GRPO step (TRL's GRPOTrainer, as grpo_setup builds it) on the simulated GPU.

The same model loading and peak counting as the SFT step (step.run_simulated_steps); the
trainer is the run's GRPOTrainer with GRPO's own arguments (grpo_setup.build_grpo_kwargs):
per-device batch micro_batch_size x grpo_num_generations answers, one generation per
optimizer step for all of its accumulation steps, TRL's fused LM head for the
log-probabilities, and with a KL weight above 0 the reference log-probabilities (LoRA: the
policy with its adapter disabled; full fine-tuning: TRL's frozen copy).

Each step runs the worst case: every prompt is max_seq_length tokens and every answer runs
to grpo_max_completion_length tokens. Generation is transformers' own `generate` (prefill,
the model's KV cache, the logits processors and sampling, one forward per new token), but
when to stop is decided by the length alone: no answer ends early at an EOS, which a
FakeTensor has no values to decide. After generation, cutting each answer at its first EOS
reads token values too; the answers are max_completion_length tokens, so the simulation
hands TRL that answer (its ids) directly. Everything after (rewards on the CPU, the
reference and policy log-probabilities, the loss, backward and the optimizer step) is
TRL's own code. Only in the simulation's worker process.

What differs from a real GPU, all small: the rewards are a stand-in (they score text on the
CPU and hold no GPU memory); TRL's bookkeeping over answers selects with boolean masks at
their largest (step.masks_select_every_element); without Triton, TRL's fused LM head
scores every position of prompt + answer where a GPU scores the answer tokens alone, one
more copy of the prompts' hidden states (about 2 x hidden size bytes a prompt token).
Full fine-tuning's frozen reference is built from the config (step.frozen_reference).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from core.recipe.config import TrainConfig
from core.training.device import DevicePlan
from core.training.grpo_setup import build_grpo_kwargs
from core.training.lora_targets import resolve_targets
from core.training.memory_savers import apply_memory_savers
from core.training.model_loading import drop_console_printer, lora_config, match_adapter_dtype
from core.training.real_steps import steps_arguments
from core.training.simulate.step import (
    SIMULATED_TOKEN,
    WORD,
    frozen_reference,
    masks_select_every_element,
    run_simulated_steps,
    word_tokenizer,
)
from core.training.simulate.tracker import active_tracker


def prompt_rows(config: TrainConfig, steps: int) -> dict[str, list[str]]:
    """Prompts of max_seq_length tokens (the longest a run takes), one optimizer step's
    micro_batch_size x gradient_accumulation per step, in TRL's standard (text) format."""
    prompts = config.micro_batch_size * config.gradient_accumulation * steps
    prompt = " ".join([WORD] * config.max_seq_length)
    return {"prompt": [prompt] * prompts, "reference": ["{}"] * prompts}


def _length_reward(completions, **_):
    """Rewards score text on the CPU and hold no GPU memory; any reward does."""
    return [float(len(text)) for text in completions]


def _stop_at_the_length_only() -> None:
    """transformers' sampling loop stops when every sequence has ended (a value no FakeTensor
    has) or at max_new_tokens: make the length the only rule, the worst case."""
    # transformers is heavy: loaded when a model is
    from transformers.generation import utils as generation

    if getattr(generation.StopCheck, "_simulated", False):
        return
    limit = {"length": 0}
    original_sample = generation.GenerationMixin._sample

    def sample(self, input_ids, logits_processor, stopping_criteria, *args, **kwargs):
        limit["length"] = stopping_criteria.max_length
        return original_sample(
            self, input_ids, logits_processor, stopping_criteria, *args, **kwargs
        )

    def stop(self, unfinished_sequences, tokens, length):
        return length >= limit["length"]

    generation.GenerationMixin._sample = sample
    generation.StopCheck.__call__ = stop
    generation.StopCheck._simulated = True


def _unmasked_backbone(model) -> None:
    """The prompts are unpadded and every answer is full length, so the attention mask is
    all ones and transformers drops it on a GPU (causal SDPA, flash). It decides by reading
    the mask's values, which a FakeTensor has none of; TRL still counts tokens from the
    mask, so only the decoder backbone goes without (generation's forwards and the
    log-probability forwards all pass through it)."""

    def drop_mask(_module, args, kwargs):
        kwargs.pop("attention_mask", None)
        return args, kwargs

    model.base_model.register_forward_pre_hook(drop_mask, with_kwargs=True)


def _worst_case_generation(trainer) -> None:
    """TRL's transformers generation path (_generate_single_turn) with every answer running
    to max_completion_length; the peak of generation is counted under its own phase name."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # trl is heavy: loaded when training starts
    from trl.models.utils import unwrap_model_for_generation
    from trl.trainer.utils import pad

    _stop_at_the_length_only()
    masks_select_every_element()
    length = trainer.max_completion_length

    def generate_single_turn(
        prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False
    ):
        # As TRL's regular path: left-pad the prompts, move them, generate without gradients
        # on the unwrapped model (gradient checkpointing off, so the KV cache is used).
        prompt_tensors = [torch.tensor(ids) for ids in prompt_ids]
        padded = pad(
            prompt_tensors,
            padding_value=trainer._tokenizer.pad_token_id,
            padding_side="left",
            pad_to_multiple_of=trainer.pad_to_multiple_of,
        )
        mask = pad(
            [torch.ones_like(t) for t in prompt_tensors],
            padding_value=0,
            padding_side="left",
            pad_to_multiple_of=trainer.pad_to_multiple_of,
        )
        inputs = super(type(trainer), trainer)._prepare_inputs(
            {"input_ids": padded, "attention_mask": mask}
        )
        tracker = active_tracker()
        phase = tracker.phase if tracker else ""
        if tracker:
            tracker.phase = "generation"
        try:
            with (
                unwrap_model_for_generation(
                    trainer.model_wrapped,
                    trainer.accelerator,
                    gather_deepspeed3_params=trainer.args.ds3_gather_for_generation,
                    generation_kwargs=trainer.generation_kwargs,
                    gradient_checkpointing_kwargs=trainer.args.gradient_checkpointing_kwargs,
                ) as unwrapped,
                torch.no_grad(),
            ):
                generated = unwrapped.generate(
                    **inputs, generation_config=trainer.generation_config
                )
            del generated
        finally:
            if tracker:
                tracker.phase = phase
        # Every answer is max_completion_length tokens (none ended at an EOS).
        return [[SIMULATED_TOKEN] * length for _ in prompt_ids], None

    trainer._generate_single_turn = generate_single_turn


@contextmanager
def _reference_from_the_config(model):
    """Full fine-tuning with a KL weight: GRPOTrainer loads its frozen reference from the
    policy's path (create_model_from_path); the simulation has no weights to load, so the
    same copy is built from the config on the policy's device (as dpo_step does for DPO)."""
    # trl is heavy: loaded when training starts
    from trl.trainer import grpo_trainer

    original = grpo_trainer.create_model_from_path
    grpo_trainer.create_model_from_path = lambda *args, **kwargs: frozen_reference(model)
    try:
        yield
    finally:
        grpo_trainer.create_model_from_path = original


def grpo_steps_trainer(
    config: TrainConfig, plan: DevicePlan, model, output: Path, steps: int, check_host_ram: bool
):
    """The run's GRPOTrainer for `steps` optimizer steps over the longest prompts and
    answers, without saving: grpo_setup's arguments and reference, the LoRA targets, adapter
    dtype and memory savers a run applies (trainer_setup.finish_trainer)."""
    # datasets is heavy: loaded when data is tokenized
    from datasets import Dataset

    # trl is heavy: loaded when training starts
    from trl import GRPOConfig, GRPOTrainer

    run, kwargs = steps_arguments(
        config,
        plan,
        steps,
        output,
        build_grpo_kwargs,
        log_every=10**6,  # no loss is logged: .item() cannot read a FakeTensor
        extra_args={"dataloader_pin_memory": False},
    )
    with _reference_from_the_config(model):
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=[_length_reward],
            args=GRPOConfig(**kwargs),
            train_dataset=Dataset.from_dict(prompt_rows(run, steps)),
            processing_class=word_tokenizer(),
            peft_config=lora_config(run, resolve_targets(run, model))
            if run.is_adapter_method
            else None,
        )
    drop_console_printer(trainer)
    for module in (model, trainer.ref_model):  # the reference: full fine-tuning's copy
        if module is not None:
            _unmasked_backbone(module)
    match_adapter_dtype(trainer.model, plan)
    apply_memory_savers(trainer, run, plan.device, check_host_ram=check_host_ram)
    _worst_case_generation(trainer)
    return trainer


def run_simulated_grpo_steps(
    model_config: dict,
    config: TrainConfig,
    steps: int = 2,
    explain: bool = False,
    device: str = "fake",
) -> dict:
    """Peak memory of `steps` optimizer steps of our GRPO trainer, generation included (see
    run_simulated_steps)."""
    return run_simulated_steps(
        model_config, config, steps, explain, device, build_trainer=grpo_steps_trainer
    )
