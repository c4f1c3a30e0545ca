"""Building a GRPO run's trainer: TRL's GRPOTrainer beside the SFT and DPO ones.

The model writes `grpo_num_generations` answers to each prompt, the recipe's rewards
(core.rewards) score them, and each answer is pushed towards the better ones of its group.
micro_batch_size counts prompts, as examples count for SFT, so one micro batch is
micro_batch_size x grpo_num_generations answers. With a KL weight above 0 the reference is
the starting model: with LoRA the adapter disabled (base) or, continuing an SFT run, TRL's
"ref" copy of that adapter; one copy of the base weights either way. Loading the policy
is trainer_setup.load_policy's, as for SFT; building the trainer is stage_trainer's,
shared with DPO.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from core.rewards.spec import trl_reward_functions
from core.runs.records import WARNING, Advice
from core.training.chat_tokens import require_chat_template
from core.training.grpo_preview import preview_samples
from core.training.model_loading import load_tokenizer
from core.training.observer import PREFLIGHT
from core.training.sft_args import build_sft_kwargs
from core.training.stage_trainer import build_stage_trainer
from core.training.trainer_setup import load_policy

if TYPE_CHECKING:
    from core.training.run_setup import RunInputs
    from core.training.session_state import SessionState

PREFLIGHT_PROMPTS = 2


def grpo_config_fields() -> dict[str, dataclasses.Field]:
    # trl is heavy: imported once a run starts
    from trl import GRPOConfig

    return {f.name: f for f in dataclasses.fields(GRPOConfig)}


def build_grpo_kwargs(config, plan, schedule, output_dir, has_eval) -> tuple[dict, list[str]]:
    """GRPOConfig's arguments: the SFT mapping of the shared settings, plus GRPO's own."""
    kwargs, notes = build_sft_kwargs(
        config, plan, schedule, output_dir, has_eval, 0, trainer_fields=grpo_config_fields()
    )
    answers = config.micro_batch_size * config.grpo_num_generations
    kwargs["per_device_train_batch_size"] = answers
    kwargs["per_device_eval_batch_size"] = answers
    kwargs["num_generations"] = config.grpo_num_generations
    kwargs["max_completion_length"] = config.grpo_max_completion_length
    kwargs["temperature"] = config.grpo_temperature
    kwargs["beta"] = config.grpo_beta
    kwargs["log_completions"] = False  # TRL would print tables to the console
    return kwargs, notes


def _preflight(session: SessionState, inputs: RunInputs, model, tokenizer) -> None:
    """Generate a group of answers to the first prompts and score them before step 1: how
    long one step's generation takes, and whether the rewards tell the answers apart."""
    config, data = inputs.config, inputs.data
    session.report_status(PREFLIGHT, "pre-flight: sampling answers and scoring the rewards")
    sampled = preview_samples(
        model,
        tokenizer,
        data.spec,
        data.train[:PREFLIGHT_PROMPTS],
        config,
        per_prompt=config.grpo_num_generations,
    )
    session.recorder.log(f"pre-flight (GRPO): {sampled.summary()}")
    if sampled.flat_groups == sampled.n_prompts:
        session.recorder.add_advice(
            Advice(
                0,
                WARNING,
                "rewards_flat",
                "The rewards do not tell the answers apart",
                f"All {config.grpo_num_generations} answers to each of {sampled.n_prompts} "
                f"prompts scored the same total ({sampled.preview.answers[0].total:g}); GRPO "
                "learns only from differences within a group. Add a graded reward (e.g. "
                "reference_match on a field, keys), raise the temperature, or train SFT first "
                "so some answers already succeed.",
            )
        )


def build_grpo_trainer(session: SessionState, inputs: RunInputs):
    """The GRPOTrainer for the run, its callback logic and its number of optimizer steps."""
    # trl is heavy: imported once a run starts
    from trl import GRPOConfig, GRPOTrainer

    config, base, data = inputs.config, inputs.base, inputs.data
    recorder = session.recorder
    tokenizer = load_tokenizer(base.path)
    require_chat_template(tokenizer, base.name)
    recorder.log(
        f"data: {len(data.train)} training and {len(data.valid)} validation prompts; GRPO "
        f"{config.grpo_num_generations} answers per prompt of at most "
        f"{config.grpo_max_completion_length} tokens, temperature {config.grpo_temperature:g}, "
        f"KL weight {config.grpo_beta:g}"
    )
    for line in data.spec.describe():
        recorder.log(f"reward {line}")
    session.check_stop()

    model, peft_config = load_policy(session, inputs, "GRPO")
    if config.preflight and inputs.checkpoint is None and not session.world.distributed:
        _preflight(session, inputs, model, tokenizer)
    session.check_stop()

    return build_stage_trainer(
        session,
        inputs,
        trainer_class=GRPOTrainer,
        args_class=GRPOConfig,
        build_kwargs=build_grpo_kwargs,
        model=model,
        peft_config=peft_config,
        tokenizer=tokenizer,
        rows_are="one prompt each",
        args_extra={"reward_weights": data.spec.weights},
        trainer_extra={"reward_funcs": trl_reward_functions(data.spec)},
    )
