"""A training session: one run from data to final model, controllable from another thread.

    session = TrainingSession(project, config, observer)
    result = session.run()          # blocks: call it on a worker thread (QThread, Thread)
    session.pause(); session.resume(); session.stop()   # from any thread

run() never raises for a failed run: bad data, a model that cannot load, running out of
memory or a diverged loss all end as a RunResult with status "failed" and a reason that
says what to do. The run folder and its database row are written as the run goes, so
nothing is lost to a crash, and `resume_run` continues from the last checkpoint.
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core import __version__
from core.atomic_file import write_text_atomic
from core.models.remote_code import inherit_trust
from core.project.store import Project
from core.recipe.config import TrainConfig, TrainConfigError, config_to_yaml
from core.training import runs
from core.training.advisor import RunFacts, advice_at_start
from core.training.callback import StudioCallbackLogic, make_callback
from core.training.chat_tokens import ChatTemplateError
from core.training.control import RunControl
from core.training.conversations import TrainingDataError
from core.training.distributed import current_world
from core.training.observer import (
    CREATED,
    FAILED,
    FINISHED,
    LOADING,
    PREFLIGHT,
    PREPARING,
    SAVING,
    STOPPED,
    RunResult,
    TrainingObserver,
)
from core.training.recorder import RunRecorder
from core.training.records import ERROR, INFO, WARNING, Advice

if TYPE_CHECKING:
    from core.models.registry import BaseModel
    from core.training.device import DevicePlan
    from core.training.lora_targets import LoraTargets
    from core.training.prepare import PreparedData

SETUP_ERRORS = (TrainConfigError, TrainingDataError, ChatTemplateError)
STUDIO_MODEL_FILE = "studio_model.json"


class _Stopped(Exception):
    """The user (or the memory guard) stopped the run before training began."""


@dataclass(frozen=True)
class RunInputs:
    """What one run trains on, resolved once before the run folder is opened."""

    config: TrainConfig
    base: BaseModel
    data: PreparedData
    plan: DevicePlan
    checkpoint: Path | None = None  # the checkpoint a resumed run continues from
    previous: runs.RunInfo | None = None  # the run being resumed


class TrainingSession:
    def __init__(
        self,
        project: Project,
        config: TrainConfig | None = None,
        observer: TrainingObserver | None = None,
        resume_run: str | None = None,
    ) -> None:
        if config is None and resume_run is None:
            raise ValueError("give a config, or the run to resume")
        self.project = project
        self.config = config
        self.world = current_world()  # rank 0 of 1 unless started by a distributed launcher
        # Rank 0 reports for the whole distributed run; the others would repeat each line.
        self.observer = (observer if self.world.is_main else None) or TrainingObserver()
        self.resume_from = resume_run
        self.control = RunControl()
        self.state = CREATED
        self.run_id: str | None = resume_run
        self.folder: Path | None = None
        self.result: RunResult | None = None
        self._recorder: RunRecorder | None = None
        self._done = threading.Event()
        self.memory_guard = None  # a MemoryGuard while the run prepares, checks and trains
        self.memory_stop_reason = ""  # set (from the guard's thread) when memory ran out
        self.thread: threading.Thread | None = None  # set by start_run
        self._lock: runs.RunLock | None = None
        self._previous_duration = 0.0  # seconds trained before this resume
        self._train_runtime = 0.0
        self._preflight = None  # the PreflightReport, when the run checked before training
        self._suggestions: list[dict] = []  # settings that would fit, after running out of memory

    # --- control from any thread ----------------------------------------------------
    def stop(self, reason: str = "Stopped by the user.") -> None:
        """Finish the current step, save a checkpoint and end (status "stopped")."""
        self.control.request_stop(reason)

    def pause(self) -> None:
        """Hold after the current optimizer step until resume() or stop()."""
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    @property
    def is_paused(self) -> bool:
        return self.control.pause_requested

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for run() to end (for callers that started it on a thread)."""
        return self._done.wait(timeout)

    # --- the run --------------------------------------------------------------------
    def run(self) -> RunResult:
        from core.training.model_loading import quiet_progress_bars

        try:
            with quiet_progress_bars():
                result = self._run()
        except BaseException as error:  # KeyboardInterrupt in the CLI, or a bug of ours
            result = self._finish(FAILED, f"{type(error).__name__}: {error}", None, None)
            if not isinstance(error, Exception):
                raise
        finally:
            self._done.set()
        return result

    def _status(self, state: str, message: str) -> None:
        self.state = state
        if self._recorder is not None:
            self._recorder.status(state, message)
        else:
            try:
                self.observer.on_status(state, message)
            except Exception:
                traceback.print_exc()

    def _log(self, message: str, level: int = logging.INFO) -> None:
        if self._recorder is not None:
            self._recorder.log(message, level)

    def _run(self) -> RunResult:
        from core.training.device import cpu_threads, resolve_device
        from core.training.prepare import read_data, resolve_base_model

        self._status(PREPARING, "checking the settings and reading the data")
        checkpoint = None
        previous = None
        try:
            if self.resume_from:
                previous = runs.load_run(self.project, self.resume_from)
                if previous.status == runs.RunState.RUNNING and self.world.is_main:
                    raise TrainConfigError("run", f"{previous.run_id} is training right now.")
                if previous.status == runs.RunState.FINISHED:
                    raise TrainConfigError("run", f"{previous.run_id} has already finished.")
                checkpoint = runs.latest_checkpoint(previous.folder)
                if checkpoint is None:
                    raise TrainConfigError(
                        "run",
                        f"{previous.run_id} has no complete checkpoint to resume from; start it "
                        "again instead.",
                    )
                if self.config is None:
                    self.config = previous.config()
            config = self.config
            inputs = RunInputs(
                config=config,
                base=resolve_base_model(self.project, config),
                data=read_data(self.project, config),
                plan=resolve_device(config),
                checkpoint=checkpoint,
                previous=previous,
            )
        except SETUP_ERRORS as error:
            return self._finish(FAILED, str(error), None, None)
        except runs.RunNotFound as error:
            return self._finish(FAILED, str(error), None, None)

        self._start_memory_guard(config, inputs.plan)
        try:
            self._open_run(inputs)
            with cpu_threads(config, inputs.plan) as threads:
                if threads:
                    self._log(f"training on {threads} CPU threads")
                return self._train(inputs)
        finally:
            self._close_memory_guard()

    # --- the memory guard -----------------------------------------------------------
    def _start_memory_guard(self, config, plan) -> None:
        from core.training.memory_guard import MemoryGuard, MemoryLimits

        self.memory_guard = MemoryGuard(
            MemoryLimits.from_config(config),
            on_stop=self._memory_ran_out,
            watch_gpu=plan.device == "cuda",
            on_warning=lambda _text: None,  # read at the next step end (see the callback)
        )
        self.memory_guard.start(threading.get_ident())

    def _close_memory_guard(self) -> None:
        guard = self.memory_guard
        if guard is not None:
            guard.close()

    def _memory_ran_out(self, reason: str) -> None:
        """Called on the guard's thread: only flags, the training thread does the rest."""
        self.memory_stop_reason = reason
        self.control.request_stop(f"Out of memory: {reason}.")

    def _train(self, inputs: RunInputs) -> RunResult:
        config, plan, checkpoint = inputs.config, inputs.plan, inputs.checkpoint
        trainer = None
        logic = None
        try:
            trainer, logic, max_steps = self._build(inputs)
            self._status(
                "training",
                f"{config.method} on {plan.description}: {max_steps} steps"
                + (f", resuming from {checkpoint.name}" if checkpoint else ""),
            )
            output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
            self._train_runtime = float(output.metrics.get("train_runtime", 0.0))
            return self._conclude(trainer, logic, config)
        except _Stopped:
            if self.memory_stop_reason:
                return self._memory_stopped(config, trainer, logic)
            return self._finish(STOPPED, self.control.stop_reason, trainer, logic)
        except SETUP_ERRORS as error:
            return self._finish(FAILED, str(error), trainer, logic)
        except Exception as error:
            from core.training.preflight import is_out_of_memory

            if self.memory_stop_reason and isinstance(error, MemoryError):
                # The guard interrupted a step that would not end in time.
                oom_text = ""
            elif not is_out_of_memory(error):
                self._log(traceback.format_exc(), logging.ERROR)
                return self._finish(
                    FAILED, f"{type(error).__name__}: {error}".strip(), trainer, logic
                )
            else:
                oom_text = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
                self._log(traceback.format_exc(), logging.ERROR)
        # Handled outside the except block: the traceback's frames hold the activations,
        # and the memory can only be given back once they are gone.
        if self.memory_stop_reason:
            return self._memory_stopped(config, trainer, logic)
        return self._out_of_memory(oom_text, config, trainer, logic)

    # --- setting up -----------------------------------------------------------------
    def _open_run(self, inputs: RunInputs) -> None:
        config, base, data, plan = inputs.config, inputs.base, inputs.data, inputs.plan
        previous = inputs.previous
        project = self.project
        if self.world.distributed:
            from core.training.distributed import join_process_group

            join_process_group(plan.device)
            if not self.world.is_main:
                self._follow_run(previous)
                return
        if previous is None:
            self.run_id = runs.new_run_id(project, config.method)
            self.folder = project.runs_dir / self.run_id
            self.folder.mkdir(parents=True)
        else:
            self.run_id = previous.run_id
            self.folder = previous.folder
        self._lock = runs.RunLock(self.folder)
        self._lock.acquire()
        config_yaml = config_to_yaml(config)
        if previous is None:
            write_text_atomic(self.folder / runs.CONFIG_FILE, config_yaml)
            key = runs.insert_run_row(
                project,
                self.run_id,
                {
                    "name": config.display_name(),
                    "status": runs.RunState.RUNNING,
                    "base_model": base.name,
                    "base_model_path": str(base.path),
                    "method": config.method,
                    "dataset_version_id": data.source.version_id,
                    "dataset_version_label": data.source.version_label,
                    "dataset_content_hash": data.source.content_hash,
                    "train_file": str(data.source.train_path),
                    "validation_file": str(data.source.valid_path or ""),
                    "config_yaml": config_yaml,
                    "folder": self.folder.name,
                    "device": plan.description,
                    "started_at": runs.now(),
                },
            )
            self._previous_duration = 0.0
        else:
            key = runs.row_key(project, self.run_id)
            changes = {"status": runs.RunState.RUNNING, "status_reason": "", "ended_at": None}
            stored = (self.folder / runs.CONFIG_FILE).read_text(encoding="utf-8")
            if stored != config_yaml:
                # Resumed with other settings (say a smaller micro batch after running out
                # of memory): the run's config now says what it continues with.
                write_text_atomic(self.folder / f"config.before-resume-{_stamp()}.yaml", stored)
                write_text_atomic(self.folder / runs.CONFIG_FILE, config_yaml)
                changes["config_yaml"] = config_yaml
            runs.update_run_row(project, self.run_id, **changes)
            self._previous_duration = previous.duration_s
        self._recorder = RunRecorder(project, self.run_id, self.folder, key, self.observer)
        self._recorder.log(
            f"FineTune Studio {__version__}, run {self.run_id}" + (" (resumed)" if previous else "")
        )
        if self.world.distributed:
            from core.training.distributed import share_from_main

            share_from_main(self.run_id)
            self._recorder.log(f"distributed: {self.world.size} processes; rank 0 keeps the record")
        for note in data.notes:
            self._recorder.log(note)

    def _follow_run(self, previous) -> None:
        """A rank other than 0: train in rank 0's run, write nothing of the record."""
        from core.training.distributed import FollowerRecorder, share_from_main

        self.run_id = share_from_main(None)
        self.folder = self.project.runs_dir / self.run_id
        self.folder.mkdir(parents=True, exist_ok=True)  # a node without the shared folder
        self._previous_duration = previous.duration_s if previous else 0.0
        self._recorder = FollowerRecorder(self.project, self.run_id, self.folder, self.observer)

    def _check_stop(self) -> None:
        if self.control.stop_requested:
            raise _Stopped()

    def _build(self, inputs: RunInputs):
        from trl import SFTTrainer

        from core.training.model_loading import (
            count_parameters,
            drop_console_printer,
            load_base_model,
            load_tokenizer,
            lora_config,
            match_adapter_dtype,
        )
        from core.training.prepare import tokenize_data, truncation_advice
        from core.training.schedule import (
            apply_schedule,
            provisional_schedule,
            resolve_schedule,
            steps_per_epoch,
            total_steps,
        )
        from core.training.sft_args import (
            build_sft_config,
            build_sft_kwargs,
            trainer_tokenizer_kwarg,
        )

        config, base, data, plan = inputs.config, inputs.base, inputs.data, inputs.plan
        checkpoint = inputs.checkpoint
        recorder = self._recorder
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
        self._check_stop()

        if config.preflight and checkpoint is None and not self.world.distributed:
            self._run_preflight(inputs, tokenizer)
        self._check_stop()

        self._status(LOADING, f"loading {base.name} for {config.method} on {plan.description}")
        model = load_base_model(config, plan, base.path)
        self._check_stop()

        # Resolved once, before the trainer is built: a name the model lacks stops here.
        targets = self._report_lora_targets(config, model) if config.is_adapter_method else None

        has_eval = bool(data.valid_tokens and data.valid_tokens.examples)
        kwargs, notes = build_sft_kwargs(
            config,
            plan,
            provisional_schedule(config, has_eval),
            self.folder / runs.CHECKPOINTS_DIR,
            has_eval,
            warmup_steps=0,
        )
        for note in notes:
            recorder.log(note)
        logic = StudioCallbackLogic(recorder, self.control, plan.device, config.stop_on_divergence)
        logic.early_stopping_patience = config.early_stopping_patience
        logic.memory_guard = self.memory_guard
        if self.world.distributed:
            from core.training.distributed import stop_on_every_rank

            logic.synchronize_stop = stop_on_every_rank
        trainer = SFTTrainer(
            model=model,
            args=build_sft_config(**kwargs),
            train_dataset=data.train_tokens.to_hf_dataset(),
            eval_dataset=data.valid_tokens.to_hf_dataset() if has_eval else None,
            peft_config=lora_config(config, targets) if targets else None,
            callbacks=[make_callback(logic)],
            **trainer_tokenizer_kwarg(tokenizer),
        )
        drop_console_printer(trainer)
        match_adapter_dtype(trainer.model, plan)
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
            f"({'packed' if config.packing else 'one conversation each'}), {per_epoch} steps per "
            f"epoch, {max_steps} steps; evaluate every {schedule.eval_every or '-'} and "
            f"checkpoint every {schedule.save_every} steps"
        )
        if self.world.is_main:
            self._write_run_json(inputs, schedule, max_steps, per_epoch, trainable, total)
            runs.update_run_row(
                self.project, self.run_id, max_steps=max_steps, device=plan.description
            )

        history = []
        if checkpoint is not None:
            step = int(checkpoint.name.rsplit("-", 1)[1])
            history = [r for r in runs.read_metrics(self.folder) if r.step <= step]
            recorder.mark_resumed(step)
            logic.clock.offset_s = self._previous_duration
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
            )
            for advice in advice_at_start(facts):
                recorder.add_advice(advice)
        self._check_stop()
        return trainer, logic, max_steps

    def _report_lora_targets(self, config: TrainConfig, model) -> LoraTargets:
        """The run's LoRA targets, saying what LoRA reaches where it is not what the
        settings suggest: the experts of a mixture of experts left out, or LoRA dropout
        turned off to reach them. A name the model lacks raises TrainConfigError."""
        from core.training.lora_targets import resolve_targets

        targets = resolve_targets(config, model, strict=not self.resume_from)
        for note in targets.notes:
            self._recorder.log(note)
        if targets.experts_left_out:
            self._recorder.add_advice(
                Advice(
                    step=0,
                    severity=WARNING,
                    kind="lora_experts_untrained",
                    title="LoRA does not reach the experts",
                    message=targets.experts_left_out + ".",
                )
            )
        elif targets.parameters and targets.dropout != config.lora_dropout:
            self._recorder.add_advice(
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

    def _run_preflight(self, inputs: RunInputs, tokenizer) -> None:
        from core.training.preflight import (
            PreflightCancelled,
            PreflightWatch,
            run_preflight_prepared,
        )
        from core.training.schedule import total_steps

        config, base, data, plan = inputs.config, inputs.base, inputs.data, inputs.plan
        self._status(PREFLIGHT, "pre-flight: 3 real steps on the longest batch")
        rows = len(data.train_tokens.examples)
        if config.packing:
            rows = max(1, -(-data.train_tokens.n_tokens // config.max_seq_length))
        guard = self.memory_guard
        watch = PreflightWatch(
            progress=lambda message: self._status(PREFLIGHT, f"pre-flight: {message}"),
            should_stop=lambda: guard.stop_reason if guard is not None else "",
            cancelled=lambda: self.control.stop_requested and not self.memory_stop_reason,
        )
        try:
            report = run_preflight_prepared(
                config,
                plan,
                base.path,
                tokenizer,
                data.train_tokens,
                total_steps(rows, config),
                self.folder / "preflight",
                verify=plan.device != "cpu",
                watch=watch,
            )
        except PreflightCancelled:
            raise _Stopped() from None
        self._preflight = report
        if report.stopped and self.memory_stop_reason:
            self._recorder.log(f"pre-flight: {report.message}")
            raise _Stopped()
        self._recorder.log(f"pre-flight: {report.message}")
        write_text_atomic(
            self.folder / "preflight.json", json.dumps(report.as_dict(), indent=2, sort_keys=True)
        )
        if not report.fits:
            self._suggestions = [s.as_dict() for s in report.suggestions]
            self._recorder.add_advice(
                Advice(
                    step=0,
                    severity=ERROR,
                    kind="out_of_memory",
                    title="Pre-flight stopped" if report.stopped else "Would not fit",
                    message=report.message,
                    action="apply_settings" if report.suggestions else "",
                    action_label=report.suggestions[0].label if report.suggestions else "",
                    details={"suggestions": self._suggestions},
                )
            )
            raise TrainConfigError("micro_batch_size", f"pre-flight: {report.message}")

    def _write_run_json(self, inputs: RunInputs, schedule, max_steps, per_epoch, trainable, total):
        import peft
        import torch
        import transformers
        import trl

        config, base, data, plan = inputs.config, inputs.base, inputs.data, inputs.plan
        info = {
            "run_id": self.run_id,
            "studio_version": __version__,
            "base_model": base.name,
            "base_model_path": str(base.path),
            # Where a Hub model came from, pinned to the commit it was trained on.
            "base_model_hub_id": getattr(base, "hub_id", None),
            "base_model_revision": getattr(base, "revision", None),
            "method": config.method,
            "device": plan.device,
            "precision": plan.precision,
            "optimizer": plan.optimizer,
            "learning_rate": config.effective_learning_rate,
            "effective_batch_size": config.effective_batch_size,
            "max_steps": max_steps,
            "steps_per_epoch": per_epoch,
            "eval_every": schedule.eval_every,
            "checkpoint_every": schedule.save_every,
            "final_model_is": "best" if schedule.load_best_at_end else "last",
            "trainable_parameters": trainable,
            "total_parameters": total,
            "data": {
                **data.stats(),
                "train_file": str(data.source.train_path),
                "validation_file": str(data.source.valid_path or ""),
                "dataset_version_id": data.source.version_id,
                "dataset_version_label": data.source.version_label,
                "dataset_content_hash": data.source.content_hash,
            },
            "libraries": {
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "trl": trl.__version__,
                "peft": peft.__version__,
                "python": platform.python_version(),
            },
            "final_model_dir": runs.FINAL_DIR,
            "processes": self.world.size,
        }
        write_text_atomic(self.folder / runs.RUN_FILE, json.dumps(info, indent=2, sort_keys=True))

    # --- ending ---------------------------------------------------------------------
    def _conclude(self, trainer, logic: StudioCallbackLogic, config: TrainConfig) -> RunResult:
        if logic.diverged_reason:
            return self._finish(FAILED, logic.diverged_reason, trainer, logic)
        if self.memory_stop_reason:
            # The checkpoint of the last step is saved; no final model from a run cut short
            # for memory (saving it would need memory too): Continue run resumes it.
            return self._memory_stopped(config, trainer, logic)
        if self.control.stop_requested:
            status, reason = STOPPED, self.control.stop_reason
        elif logic.early_stopped_reason:
            status, reason = FINISHED, logic.early_stopped_reason
        else:
            status, reason = FINISHED, ""
        self._status(SAVING, "saving the final model")
        final_dir = self._save_final(trainer, config)
        return self._finish(status, reason, trainer, logic, final_dir)

    def _save_final(self, trainer, config) -> Path:
        final_dir = self.folder / runs.FINAL_DIR
        staging = self.folder / f".{runs.FINAL_DIR}.saving"
        if self.world.is_main:
            shutil.rmtree(staging, ignore_errors=True)
        # Every rank takes part (FSDP and ZeRO-3 gather the weights); rank 0 writes them.
        trainer.save_model(str(staging))
        if not self.world.is_main:
            return final_dir
        trainer.processing_class.save_pretrained(str(staging))
        best = runs.best_checkpoint(self.folder)
        meta = {
            "run_id": self.run_id,
            "method": config.method,
            "is_adapter": config.is_adapter_method,
            "base_model": config.base_model,
            "base_model_path": str(self._base_path()),
            "step": int(trainer.state.global_step),
            "from_checkpoint": Path(trainer.state.best_model_checkpoint).name
            if trainer.args.load_best_model_at_end and trainer.state.best_model_checkpoint
            else "last step",
            "best_checkpoint": best.name if best else None,
        }
        write_text_atomic(staging / STUDIO_MODEL_FILE, json.dumps(meta, indent=2, sort_keys=True))
        if final_dir.exists():
            shutil.rmtree(final_dir)
        staging.rename(final_dir)
        self._log(f"final model saved to {final_dir} ({meta['from_checkpoint']})")
        if inherit_trust(final_dir, meta["base_model_path"]):
            self._log("the final model carries its base model's own code: trusted like the base")
        return final_dir

    def _base_path(self) -> str:
        try:
            return runs.load_run(self.project, self.run_id).base_model_path
        except Exception:
            return ""

    @staticmethod
    def _out_of_memory_report(config, memory_kind: str):
        """A pre-flight report that only says "out of memory", to ask what would fit."""
        from core.training.preflight import PreflightReport

        return PreflightReport.unmeasured(config.device, memory_kind, out_of_memory=True)

    def _out_of_memory(self, first_line: str, config, trainer, logic) -> RunResult:
        from core.training.preflight import suggest_fitting_settings

        step = int(trainer.state.global_step) if trainer is not None else 0
        peak = self._recorder.peak_memory if self._recorder else None
        memory_kind = self._recorder.memory_kind if self._recorder else ""
        suggestions = suggest_fitting_settings(
            config, self._out_of_memory_report(config, memory_kind)
        )
        self._suggestions = [s.as_dict() for s in suggestions]
        latest = runs.latest_checkpoint(self.folder)
        reason = (
            f"Out of memory at step {step} ({first_line}). Try: "
            + "; ".join(s.label for s in suggestions)
            + "."
            + (f" The checkpoint {latest.name} is kept." if latest else "")
        )
        self._advise_out_of_memory(
            step, "Out of memory", reason, suggestions, {"peak_memory_bytes": peak}
        )
        return self._finish(FAILED, reason, trainer, logic)

    def _advise_out_of_memory(self, step, title, reason, suggestions, details) -> None:
        """The out-of-memory card: the reason, and the mildest fitting change as its action."""
        if self._recorder is None:
            return
        self._recorder.add_advice(
            Advice(
                step=step,
                severity=ERROR,
                kind="out_of_memory",
                title=title,
                message=reason,
                action="apply_settings" if suggestions else "",
                action_label=suggestions[0].label if suggestions else "",
                details={"suggestions": self._suggestions, **details},
            )
        )

    def _memory_stopped(self, config, trainer, logic) -> RunResult:
        """The memory guard stopped the run: keep the checkpoint, say what to change."""
        from core.training.preflight import Suggestion, suggest_fitting_settings

        self._close_memory_guard()
        step = int(trainer.state.global_step) if trainer is not None else 0
        suggestions = suggest_fitting_settings(config, self._out_of_memory_report(config, ""))
        if config.max_seq_length >= 256 and not any(
            "max_seq_length" in s.changes for s in suggestions
        ):
            # On the CPU the sequence length is the biggest lever (activations grow with it).
            suggestions.insert(
                0,
                Suggestion(
                    f"max sequence length {config.max_seq_length // 2}",
                    {"max_seq_length": config.max_seq_length // 2},
                    "Activations grow with sequence length; longer conversations are cut.",
                ),
            )
        self._suggestions = [s.as_dict() for s in suggestions]
        latest = runs.latest_checkpoint(self.folder) if self.folder else None
        where = f"at step {step}" if step else "before the first training step"
        kept = (
            f" The checkpoint of step {latest.name.rsplit('-', 1)[-1]} is kept."
            if latest
            else " There is no checkpoint yet, so start it again with the settings below."
        )
        remedies = "; ".join(s.label for s in suggestions)
        if config.method == "full":
            remedies += "; LoRA or QLoRA instead of full fine-tuning"
        then = " Then Continue run resumes it with them." if latest else ""
        reason = (
            f"Out of memory: the memory guard stopped the run {where}, before the system "
            f"would have closed the app: {self.memory_stop_reason}.{kept} Less memory: "
            f"{remedies}.{then}"
        )
        peak = self.memory_guard.peak_rss_bytes if self.memory_guard is not None else None
        self._advise_out_of_memory(
            step, "Stopped: out of memory", reason, suggestions, {"peak_rss_bytes": peak}
        )
        return self._finish(STOPPED, reason, trainer, logic)

    def _finish(self, status, reason, trainer, logic, final_dir: Path | None = None) -> RunResult:
        self._close_memory_guard()  # no interrupt while the run is written up
        recorder = self._recorder
        steps = (
            int(trainer.state.global_step)
            if trainer is not None
            else (recorder.steps_done if recorder else 0)
        )
        max_steps = logic.max_steps if logic is not None else 0
        elapsed = logic.clock.elapsed() if logic is not None and logic.clock else 0.0
        duration = self._previous_duration + elapsed
        tokens_seen, rate = 0, None
        if logic is not None and logic.last_tokens is not None:
            tokens_seen = int(logic.last_tokens[0])
            runtime = self._train_runtime or logic.last_tokens[1]
            rate = tokens_seen / runtime if runtime > 0 else None
        peak = recorder.peak_memory if recorder else None
        if trainer is not None and getattr(trainer.args, "device", None) is not None:
            try:
                from core.training.device import memory_snapshot

                snap = memory_snapshot(trainer.args.device.type)
                if snap.peak is not None:
                    peak = max(peak or 0, snap.peak)
            except Exception:
                pass
        best_checkpoint = runs.best_checkpoint(self.folder) if self.folder else None
        result = RunResult(
            run_id=self.run_id or "",
            folder=self.folder,
            status=status,
            reason=reason,
            final_model_dir=final_dir,
            best_checkpoint=best_checkpoint,
            best_val_loss=recorder.best_val[0] if recorder and recorder.best_val else None,
            best_step=recorder.best_val[1] if recorder and recorder.best_val else None,
            final_val_loss=recorder.last_val if recorder else None,
            final_train_loss=recorder.last_train if recorder else None,
            steps_done=steps,
            max_steps=max_steps,
            duration_s=duration,
            peak_memory_bytes=peak,
            memory_kind=recorder.memory_kind if recorder else "",
            tokens_per_second=rate,
            tokens_seen=tokens_seen,
            train_runtime_s=self._train_runtime,
            bookkeeping_s=logic.bookkeeping_s if logic is not None else 0.0,
            advice=list(recorder.advice) if recorder else [],
            suggestions=list(self._suggestions),
        )
        if self.run_id and recorder is not None and self.world.is_main:
            runs.update_run_row(
                self.project,
                self.run_id,
                status=status,
                status_reason=reason,
                ended_at=runs.now(),
                duration_s=duration,
                steps_done=steps,
                peak_memory_bytes=peak,
                memory_kind=result.memory_kind,
                best_val_loss=result.best_val_loss,
                best_step=result.best_step,
                final_val_loss=result.final_val_loss,
                final_train_loss=result.final_train_loss,
                tokens_per_second=rate,
                final_model_dir=runs.FINAL_DIR if final_dir else "",
            )
        self.result = result
        self.state = status
        if recorder is not None:
            recorder.status(status, reason or f"{status} after {steps} steps")
        else:
            self._status(status, reason)
        if recorder is not None:
            recorder.notify("on_finished", result)
            recorder.close()
        else:
            try:
                self.observer.on_finished(result)
            except Exception:
                traceback.print_exc()
        if self._lock is not None:
            self._lock.release()
        if trainer is not None:
            self._release(trainer)
        return result

    @staticmethod
    def _release(trainer) -> None:
        from core.training.device import free_accelerator_memory

        device = trainer.args.device.type
        trainer.model = None
        trainer.model_wrapped = None
        trainer.optimizer = None
        trainer.lr_scheduler = None
        free_accelerator_memory(device)


def _stamp() -> str:
    import datetime as _dt

    return _dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def start_run(
    project: Project,
    config: TrainConfig | None,
    observer: TrainingObserver | None = None,
    resume_run: str | None = None,
) -> TrainingSession:
    """Start a session on a background thread; control it with stop/pause/resume/wait."""
    session = TrainingSession(project, config, observer, resume_run)
    thread = threading.Thread(target=session.run, name="finetune-studio-training", daemon=True)
    session.thread = thread
    thread.start()
    return session


def run_training(
    project: Project,
    config: TrainConfig,
    observer: TrainingObserver | None = None,
) -> RunResult:
    """Train to the end on this thread."""
    return TrainingSession(project, config, observer).run()


def resume_run(
    project: Project, run_id: str, observer: TrainingObserver | None = None
) -> RunResult:
    """Continue an interrupted, stopped or failed run from its last checkpoint."""
    return TrainingSession(project, None, observer, resume_run=run_id).run()
