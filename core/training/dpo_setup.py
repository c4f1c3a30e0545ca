"""Building a DPO run's trainer: TRL's DPOTrainer beside the SFT one (trainer_setup).

With LoRA the reference model is the policy with its adapter disabled (ref_model=None on
a PEFT model): one copy of the base weights, never two. Continuing a finished SFT run
(start_from), TRL copies that adapter as the reference ("ref" adapter, a few MB), so the
reference is the SFT model and the base is still held once. Full fine-tuning needs a
frozen copy of the model as reference; TRL loads it and the estimate counts it.
Loading the policy is trainer_setup.load_policy's, as for SFT; building the trainer is
stage_trainer's, shared with GRPO; everything after the trainer exists is
trainer_setup.finish_trainer, as for SFT.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.dataset.preferences import validate_pairs
from core.runs.records import WARNING, Advice
from core.training.chat_tokens import require_chat_template
from core.training.dpo_args import build_dpo_kwargs
from core.training.dpo_data import count_pair_tokens
from core.training.model_loading import load_tokenizer
from core.training.stage_trainer import build_stage_trainer
from core.training.trainer_setup import load_policy, preflight_before_training

if TYPE_CHECKING:
    from core.training.run_setup import RunInputs
    from core.training.session_state import SessionState


def build_dpo_trainer(session: SessionState, inputs: RunInputs):
    """The DPOTrainer for the run, its callback logic and its number of optimizer steps."""
    # trl is heavy: loaded when training starts
    from trl import DPOConfig, DPOTrainer

    config, base, data = inputs.config, inputs.base, inputs.data
    recorder = session.recorder
    tokenizer = load_tokenizer(base.path)
    require_chat_template(tokenizer, base.name)
    too_long = [
        finding
        for finding in validate_pairs(data.train, None, None, tokenizer, config.max_seq_length)
        if finding.code == "preference_too_long"
    ]
    if too_long:
        recorder.add_advice(
            Advice(
                0,
                WARNING,
                "truncated_answers",
                "Preference pairs cut by max_seq_length",
                f"{len(too_long)} of {len(data.train)} training pairs are longer than "
                f"max_seq_length {config.max_seq_length}; their answers are cut. "
                + too_long[0].fix,
            )
        )
    recorder.log(
        f"data: {len(data.train)} training and {len(data.valid)} validation preference pairs; "
        f"DPO beta {config.dpo_beta:g}, {config.dpo_loss_type} loss"
    )
    session.check_stop()
    if config.preflight and inputs.checkpoint is None and not session.world.distributed:
        # real DPO steps on the longest pairs, chosen and rejected with the reference forward
        count_pair_tokens(data, tokenizer, config.max_seq_length)
        preflight_before_training(session, inputs, tokenizer)
    session.check_stop()

    model, peft_config = load_policy(session, inputs, "DPO", " (the DPO reference)")
    return build_stage_trainer(
        session,
        inputs,
        trainer_class=DPOTrainer,
        args_class=DPOConfig,
        build_kwargs=build_dpo_kwargs,
        model=model,
        peft_config=peft_config,
        tokenizer=tokenizer,
        rows_are="one preference pair each",
        # LoRA: the reference is the adapter disabled; full: TRL's frozen copy
        trainer_extra={"ref_model": None},
    )
