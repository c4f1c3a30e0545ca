"""Building a DPO run's trainer: TRL's DPOTrainer beside the SFT one (trainer_setup).

With LoRA the reference model is the policy with its adapter disabled (ref_model=None on
a PEFT model): one copy of the base weights, never two. Continuing a finished SFT run
(start_from), TRL copies that adapter as the reference ("ref" adapter, a few MB), so the
reference is the SFT model and the base is still held once. Full fine-tuning needs a
frozen copy of the model as reference; TRL loads it and the estimate counts it.
Everything after the trainer exists (memory savers, schedule, run.json, resume, advisor)
is trainer_setup.finish_trainer, as for SFT.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from core.dataset.preferences import validate_pairs
from core.runs import record as runs
from core.runs.records import WARNING, Advice
from core.training.callback import make_callback
from core.training.chat_tokens import require_chat_template
from core.training.model_loading import load_base_model, load_tokenizer, lora_config
from core.training.observer import LOADING
from core.training.schedule import provisional_schedule
from core.training.sft_args import build_sft_kwargs
from core.training.start_from import adapter_to_continue, load_adapter
from core.training.trainer_setup import callback_logic, finish_trainer, report_lora_targets

if TYPE_CHECKING:
    from core.training.run_setup import RunInputs
    from core.training.session import TrainingSession


def dpo_config_fields() -> dict[str, dataclasses.Field]:
    # trl is heavy: imported once a run starts
    from trl import DPOConfig

    return {f.name: f for f in dataclasses.fields(DPOConfig)}


def build_dpo_kwargs(config, plan, schedule, output_dir, has_eval) -> tuple[dict, list[str]]:
    """DPOConfig's arguments: the SFT mapping of the shared settings, plus DPO's own."""
    kwargs, notes = build_sft_kwargs(
        config, plan, schedule, output_dir, has_eval, 0, trainer_fields=dpo_config_fields()
    )
    kwargs["beta"] = config.dpo_beta
    kwargs["loss_type"] = [config.dpo_loss_type]
    # Reference log-probabilities are computed beside each step (adapter disabled), so
    # resuming after a kill needs nothing precomputed.
    kwargs["precompute_ref_log_probs"] = False
    return kwargs, notes


def build_dpo_trainer(session: TrainingSession, inputs: RunInputs):
    """The DPOTrainer for the run, its callback logic and its number of optimizer steps."""
    # datasets and trl are heavy: imported once a run starts
    from datasets import Dataset

    # trl is heavy: loaded when training starts
    from trl import DPOConfig, DPOTrainer

    config, base, data, plan = inputs.config, inputs.base, inputs.data, inputs.plan
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
    if config.preflight and inputs.checkpoint is None:
        # Pre-flight's real steps are SFT steps; a DPO step holds twice the sequences, so
        # its figure would mislead. The memory guard still stops a run that runs out.
        recorder.log("pre-flight: not run for the dpo stage (the memory guard still watches)")
    session.check_stop()

    session.report_status(LOADING, f"loading {base.name} for DPO ({config.method})")
    model = load_base_model(config, plan, base.path)
    adapter_dir = adapter_to_continue(session.project, config, base.path)
    peft_config = None
    if adapter_dir is not None:
        model = load_adapter(model, adapter_dir)
        recorder.log(f"continuing the adapter of {config.start_from} (the DPO reference)")
    elif config.is_adapter_method:
        peft_config = lora_config(config, report_lora_targets(session, config, model))
    session.check_stop()

    has_eval = bool(data.valid)
    kwargs, notes = build_dpo_kwargs(
        config,
        plan,
        provisional_schedule(config, has_eval),
        session.folder / runs.CHECKPOINTS_DIR,
        has_eval,
    )
    for note in notes:
        recorder.log(note)
    logic = callback_logic(session, inputs)
    trainer = DPOTrainer(
        model=model,
        ref_model=None,  # LoRA: the adapter disabled; full: TRL's frozen copy
        args=DPOConfig(**kwargs),
        train_dataset=Dataset.from_list(data.records(data.train)),
        eval_dataset=Dataset.from_list(data.records(data.valid)) if has_eval else None,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[make_callback(logic)],
    )
    return finish_trainer(session, inputs, trainer, logic, has_eval, "one preference pair each")
