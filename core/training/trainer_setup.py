"""Setting up the trainer of a run: tokenize, check with pre-flight, load the model, resolve
the LoRA targets, build the SFTTrainer with our callback and the step schedule.

The second step of a TrainingSession (see session.py), after run_setup opened the record.
Every stage checks for a stop request, so Stop works before the first step too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.atomic_file import write_text_atomic
from core.figures import count_text
from core.recipe.config import TrainConfig, TrainConfigError
from core.runs import record as runs
from core.runs.records import ERROR, INFO, WARNING, Advice
from core.training.advisor import RunFacts, advice_at_start
from core.training.callback import StudioCallbackLogic, make_callback
from core.training.control import RunStopped
from core.training.distributed import report_layout, stop_on_every_rank
from core.training.held_out import held_out_measure
from core.training.lora_targets import resolve_targets
from core.training.memory_savers import apply_memory_savers
from core.training.model_loading import (
    count_parameters,
    drop_console_printer,
    load_tokenizer,
    lora_config,
    match_adapter_dtype,
)
from core.training.observer import LOADING, PREFLIGHT
from core.training.preflight import (
    PreflightCancelled,
    PreflightWatch,
    run_dpo_preflight_prepared,
    run_preflight_prepared,
)
from core.training.prepare import tokenize_data, truncation_advice
from core.training.run_setup import RunInputs, write_run_json
from core.training.schedule import (
    apply_schedule,
    provisional_schedule,
    resolve_schedule,
    start_warmup_above_zero,
    steps_per_epoch,
    total_steps,
)
from core.training.sft_args import (
    build_sft_config,
    build_sft_kwargs,
    trainer_tokenizer_kwarg,
)
from core.training.start_from import (
    adapter_to_continue,
    kept_lora_settings_note,
    load_policy_model,
)

if TYPE_CHECKING:
    from core.training.lora_targets import LoraTargets
    from core.training.session_state import SessionState


def build_trainer(session: SessionState, inputs: RunInputs):
    """The SFTTrainer for the run, its callback logic and its number of optimizer steps."""
    from trl import SFTTrainer  # heavy: imported once a run starts, never by the window

    config, base, data = inputs.config, inputs.base, inputs.data
    checkpoint = inputs.checkpoint
    recorder = session.recorder
    tokenizer = load_tokenizer(base.path)
    tokenize_data(data, tokenizer, config, base.name)
    advice = truncation_advice(data)
    if advice is not None:  # the Train page shows advice; the log keeps it
        recorder.add_advice(advice)
    stats = data.stats()
    recorder.log(
        f"data: {stats['n_train']} training and {stats['n_valid']} validation conversations, "
        f"{stats.get('train_tokens', 0):,} training tokens of which "
        f"{stats.get('train_tokens_trained', 0):,} are learned ({config.loss_on} tokens)"
    )
    session.check_stop()

    if config.preflight and checkpoint is None and not session.world.distributed:
        preflight_before_training(session, inputs, tokenizer)
    session.check_stop()

    model, peft_config = load_policy(session, inputs, "SFT")

    has_eval = bool(data.valid_tokens and data.valid_tokens.examples)
    kwargs = trainer_kwargs(
        session, inputs, lambda *args: build_sft_kwargs(*args, warmup_steps=0), has_eval
    )
    logic = callback_logic(session, inputs)
    trainer = SFTTrainer(
        model=model,
        args=build_sft_config(**kwargs),
        train_dataset=data.train_tokens.to_hf_dataset(),
        eval_dataset=data.valid_tokens.to_hf_dataset() if has_eval else None,
        peft_config=peft_config,
        callbacks=[make_callback(logic)],
        **trainer_tokenizer_kwarg(tokenizer),
    )
    rows_are = "packed" if config.packing else "one conversation each"
    return finish_trainer(session, inputs, trainer, logic, has_eval, rows_are)


def trainer_kwargs(
    session: SessionState,
    inputs: RunInputs,
    build_kwargs: Callable[..., tuple[dict, list[str]]],
    has_eval: bool,
) -> dict:
    """The stage config's arguments for the run, from build_kwargs(config, plan, schedule,
    output_dir, has_eval) on the provisional schedule (finish_trainer sets the real one
    once the rows are counted); the notes on how settings were mapped go to the log."""
    config = inputs.config
    kwargs, notes = build_kwargs(
        config,
        inputs.plan,
        provisional_schedule(config, has_eval),
        session.folder / runs.CHECKPOINTS_DIR,
        has_eval,
    )
    for note in notes:
        session.recorder.log(note)
    return kwargs


def callback_logic(session: SessionState, inputs: RunInputs) -> StudioCallbackLogic:
    """The callback's logic for a run of any stage: records, pause and stop, the memory
    guard, divergence and early stopping."""
    config, plan = inputs.config, inputs.plan
    logic = StudioCallbackLogic(
        session.recorder, session.control, plan.device, config.stop_on_divergence
    )
    logic.early_stopping_patience = config.early_stopping_patience
    logic.held_out = held_out_measure(config.stage)  # GRPO: the held-out reward
    logic.memory_guard = session.memory_guard
    if session.world.distributed:
        logic.synchronize_stop = stop_on_every_rank
    return logic


def finish_trainer(
    session: SessionState,
    inputs: RunInputs,
    trainer,
    logic: StudioCallbackLogic,
    has_eval: bool,
    rows_are: str,
):
    """What every stage's trainer gets once built: memory savers, the step schedule,
    run.json, the resume point and the advisor. Returns (trainer, logic, max_steps)."""
    config, data, plan = inputs.config, inputs.data, inputs.plan
    checkpoint = inputs.checkpoint
    recorder = session.recorder
    drop_console_printer(trainer)
    if session.world.distributed:  # how the processes hold the model, once it is wrapped
        report_layout(trainer, recorder)
    match_adapter_dtype(trainer.model, plan)
    for note in (*inputs.saver_notes, *apply_memory_savers(trainer, config, plan.device)):
        recorder.log(note)
    if inputs.saver_notes:  # the Train page shows why the run is slower than it could be
        reasons = [note.removeprefix("memory saver turned on: ") for note in inputs.saver_notes]
        recorder.add_advice(
            Advice(0, INFO, "memory_savers", "Memory savers turned on", "; ".join(reasons))
        )
    start_warmup_above_zero(trainer)  # no optimizer step at learning rate 0 (run_plan)
    n_rows = len(trainer.train_dataset)
    max_steps = total_steps(n_rows, config)
    per_epoch = steps_per_epoch(n_rows, config)
    schedule, schedule_notes = resolve_schedule(config, max_steps, has_eval)
    apply_schedule(trainer.args, schedule, round(config.warmup_ratio * max_steps))
    for note in schedule_notes:
        recorder.log(note)
    trainable, total = count_parameters(trainer.model)
    recorder.log(
        f"{trainable:,} trainable of {total:,} parameters; {n_rows} training rows "
        f"({rows_are}), {count_text(per_epoch, 'step')} per "
        f"epoch, {count_text(max_steps, 'step')}; evaluate every {schedule.eval_every or '-'} and "
        f"checkpoint every {schedule.save_every} steps"
    )
    if session.world.is_main:
        write_run_json(session, inputs, schedule, max_steps, per_epoch, trainable, total)
        runs.update_run_row(
            session.project, session.run_id, max_steps=max_steps, device=plan.description
        )

    history = []
    if checkpoint is not None:
        step = int(checkpoint.name.rsplit("-", 1)[1])
        history = [r for r in runs.read_metrics(session.folder) if r.step <= step]
        recorder.mark_resumed(step)
        logic.clock.offset_s = session.previous_duration
        logic.tokens_offset = max((r.tokens_seen or 0 for r in history), default=0)
        recorder.log(f"resuming from {checkpoint}")
    recorder.start_advisor(max_steps, history)
    logic.max_steps = max_steps
    if checkpoint is None:
        facts = RunFacts(
            n_train=len(data.train),
            n_valid=len(data.valid),
            max_steps=max_steps,
            steps_per_epoch=per_epoch,
            eval_every=schedule.eval_every,
            eval_every_is_auto=config.eval_every_steps == 0,
            stage=config.stage,
        )
        for advice in advice_at_start(facts):
            recorder.add_advice(advice)
    session.check_stop()
    return trainer, logic, max_steps


def load_policy(
    session: SessionState, inputs: RunInputs, stage: str, continuing: str = ""
) -> tuple[Any, Any]:
    """The model a stage trains and its PEFT config: (model with the continued adapter,
    None) when config.start_from names a finished run, (base, LoraConfig) for a new
    adapter, or (base, None) for full fine-tuning. `continuing` ends the log line of a
    continued adapter (what it is to the stage). The LoRA targets are resolved here, before
    the trainer is built: a name the model lacks stops the run now."""
    config, base, plan = inputs.config, inputs.base, inputs.plan
    session.report_status(LOADING, f"loading {base.name} for {stage} ({config.method})")
    model, adapter_dir = load_policy_model(session.project, config, plan, base.path)
    peft_config = None
    if adapter_dir is not None:
        session.recorder.log(f"continuing the adapter of {config.start_from}{continuing}")
        note = kept_lora_settings_note(config, adapter_dir)
        if note:  # the Train page says why changing the rank changed nothing
            session.recorder.log(note)
            title = "The continued adapter keeps its LoRA settings"
            session.recorder.add_advice(Advice(0, INFO, "start_from_lora_kept", title, note))
    elif config.is_adapter_method:
        peft_config = lora_config(config, report_lora_targets(session, config, model))
    session.check_stop()
    return model, peft_config


def report_lora_targets(session: SessionState, config: TrainConfig, model) -> LoraTargets:
    """The run's LoRA targets, saying what LoRA reaches where it is not what the
    settings suggest: the experts of a mixture of experts left out, or LoRA dropout
    turned off to reach them. A name the model lacks raises TrainConfigError."""
    targets = resolve_targets(config, model, strict=not session.resume_from)
    for note in targets.notes:
        session.recorder.log(note)
    if targets.experts_left_out:
        session.recorder.add_advice(
            Advice(
                step=0,
                severity=WARNING,
                kind="lora_experts_untrained",
                title="LoRA does not reach the experts",
                message=targets.experts_left_out + ".",
            )
        )
    elif targets.parameters and targets.dropout != config.lora_dropout:
        session.recorder.add_advice(
            Advice(
                step=0,
                severity=INFO,
                kind="lora_dropout_off",
                title="LoRA dropout is off",
                message=f"LoRA also trains this mixture of experts' experts, where PEFT "
                f"cannot apply dropout, so the run trains without LoRA dropout "
                f"(set {config.lora_dropout:g}).",
            )
        )
    return targets


def preflight_before_training(session: SessionState, inputs: RunInputs, tokenizer) -> None:
    """A few real steps on the longest batch (a DPO run's: DPO steps on the longest pairs);
    a run that would not fit ends here, with the settings that would (TrainConfigError),
    before the model is loaded for training."""
    config, base, data, plan = inputs.config, inputs.base, inputs.data, inputs.plan
    session.report_status(PREFLIGHT, "pre-flight: 3 real steps on the longest batch")
    guard = session.memory_guard
    watch = PreflightWatch(
        progress=lambda message: session.report_status(PREFLIGHT, f"pre-flight: {message}"),
        should_stop=lambda: guard.stop_reason if guard is not None else "",
        cancelled=lambda: session.control.stop_requested and not session.memory_stop_reason,
    )
    work, verify = session.folder / "preflight", plan.device != "cpu"
    # the policy as load_policy gives it: a continued run's adapter, not a new one
    adapter_dir = adapter_to_continue(session.project, config, base.path)
    try:
        if config.stage == "dpo":  # DPO's own steps on the longest pairs
            report = run_dpo_preflight_prepared(
                config, plan, base.path, tokenizer, data, work, verify, watch, adapter_dir
            )
        else:
            rows = len(data.train_tokens.examples)
            if config.packing:
                rows = max(1, -(-data.train_tokens.n_tokens // config.max_seq_length))
            report = run_preflight_prepared(
                config,
                plan,
                base.path,
                tokenizer,
                data.train_tokens,
                total_steps(rows, config),
                work,
                verify=verify,
                watch=watch,
                valid=data.valid_tokens,
                adapter_dir=adapter_dir,
            )
    except PreflightCancelled:
        raise RunStopped() from None
    session.preflight_report = report
    if report.stopped and session.memory_stop_reason:
        session.recorder.log(f"pre-flight: {report.message}")
        raise RunStopped()
    session.recorder.log(f"pre-flight: {report.message}")
    write_text_atomic(
        session.folder / "preflight.json", json.dumps(report.as_dict(), indent=2, sort_keys=True)
    )
    if not report.fits:
        session.suggestions = [s.as_dict() for s in report.suggestions]
        session.recorder.add_advice(
            Advice(
                step=0,
                severity=ERROR,
                kind="out_of_memory",
                title="Pre-flight stopped" if report.stopped else "Would not fit",
                message=report.message,
                action="apply_settings" if report.suggestions else "",
                action_label=report.suggestions[0].label if report.suggestions else "",
                details={"suggestions": session.suggestions},
            )
        )
        raise TrainConfigError("micro_batch_size", f"pre-flight: {report.message}")
