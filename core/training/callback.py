"""The TrainerCallback that turns the Trainer's events into records, progress and control.

transformers' callback contract is the seam: on_log gives loss, learning rate, gradient
norm and TRL's running count of real (non-padding) tokens; on_step_end is where a pause
is asked (it blocks once the step is logged, evaluated and saved: on_log, on_evaluate or
on_save) and a stop is turned into "save a checkpoint, then end"; on_save marks a
checkpoint complete. The class is built on first use so that importing this module
does not import transformers.
"""

from __future__ import annotations

import time
from pathlib import Path

from core.runs.records import WARNING, Advice, MetricRecord
from core.training.control import RunControl, RunDeleted, TrainingComplete
from core.training.device import memory_snapshot
from core.training.held_out import VALIDATION_LOSS
from core.training.observer import PAUSED, STOPPING, TRAINING, Progress
from core.training.recorder import RunRecorder

_CALLBACK_CLASS = None


class StepClock:
    """Training time for this session, pauses excluded, and the ETA it implies."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.paused_total = 0.0
        self.first_step: int | None = None
        self.offset_s = 0.0  # time trained before a resume

    def elapsed(self) -> float:
        return time.perf_counter() - self.started - self.paused_total

    def eta(self, step: int, max_steps: int) -> float | None:
        if self.first_step is None or step <= self.first_step or max_steps <= 0:
            return None
        per_step = self.elapsed() / (step - self.first_step)
        return max(0.0, (max_steps - step) * per_step)


class StudioCallbackLogic:
    """Everything the callback does, free of transformers so it is easy to follow."""

    def __init__(
        self, recorder: RunRecorder, control: RunControl, device: str, stop_on_divergence: bool
    ):
        self.recorder = recorder
        self.control = control
        self.device = device
        self.stop_on_divergence = stop_on_divergence
        self.clock = StepClock()
        self.max_steps = 0
        self.last_tokens: tuple[float, float] | None = None  # (tokens, elapsed)
        self.tokens_offset = 0
        self.diverged_reason = ""
        self.stopped_by_control = False
        self.early_stopping_patience = 0
        self.held_out = VALIDATION_LOSS  # what early stopping watches (the stage's measure)
        self.early_stopped_reason = ""
        self._best_eval: tuple[float, int] | None = None
        self._evals_since_best = 0
        # Time spent in our own bookkeeping (records, files, database, observer, advisor),
        # pauses excluded: what this trainer costs on top of a bare TRL run.
        self.bookkeeping_s = 0.0
        self._hold_at_step: int | None = None  # a pause asked at this step's end
        # Under a distributed launcher: shares a stop asked of one rank with all of them.
        self.synchronize_stop = None
        # The session's MemoryGuard: its warnings (GPU nearly full) become advice here, on
        # the training thread, where the recorder may be used.
        self.memory_guard = None

    def step_end(self, state, control) -> None:
        started = time.perf_counter()
        try:
            self._step_end(state, control)
        finally:
            self.bookkeeping_s += time.perf_counter() - started

    def log(self, state, control, logs: dict) -> None:
        started = time.perf_counter()
        try:
            self._log(state, control, logs)
        finally:
            self.bookkeeping_s += time.perf_counter() - started

    def saved(self, args, state) -> None:
        started = time.perf_counter()
        try:
            self._saved(args, state)
        finally:
            self.bookkeeping_s += time.perf_counter() - started

    def step_begin(self, state, control) -> None:
        self._hold(control, save_on_stop=False)  # in case no hook after the step held
        if self.max_steps and int(state.global_step) >= self.max_steps:
            raise TrainingComplete(f"step {state.global_step} of {self.max_steps} was the last")

    def train_begin(self, state) -> None:
        self.max_steps = int(state.max_steps or 0)
        self.clock = StepClock()
        self.clock.first_step = int(state.global_step)
        self.last_tokens = None
        self.recorder.status(
            TRAINING, f"training from step {state.global_step} of {self.max_steps}"
        )

    def _step_end(self, state, control) -> None:
        step = int(state.global_step)
        gone = self.recorder.missing()
        if gone:
            raise RunDeleted(f"stopped at step {step}: {gone}. Nothing more was saved.")
        self.recorder.progress(
            Progress(
                step=step,
                max_steps=self.max_steps,
                epoch=float(state.epoch or 0.0),
                elapsed_s=self.clock.offset_s + self.clock.elapsed(),
                eta_s=self.clock.eta(step, self.max_steps),
            )
        )
        if self.memory_guard is not None:
            for text in self.memory_guard.take_warnings():
                self.recorder.add_advice(
                    Advice(step, WARNING, "gpu_memory_high", "GPU memory nearly full", text)
                )
        if self.control.pause_requested and not self.control.stop_requested:
            # The Trainer logs, evaluates and saves this step only after on_step_end: hold
            # once it has (hold_after_*), so a paused run shows the step it paused after.
            # The step is logged even between log_every_steps, for the same reason.
            self._hold_at_step = step
            control.should_log = True
        if self.synchronize_stop is not None:
            self.synchronize_stop(self.control)
        if self.control.stop_requested or self.diverged_reason or self.early_stopped_reason:
            control.should_training_stop = True
            # A user's stop keeps the work: checkpoint this step. Diverged weights are not worth it.
            control.should_save = not self.diverged_reason
            self._stopping(step)

    def _stopping(self, step: int) -> None:
        if self.control.stop_requested and not self.stopped_by_control:
            self.stopped_by_control = True
            self.recorder.status(STOPPING, f"stopping after step {step}: saving a checkpoint")

    def hold_after_log(self, control) -> None:
        """After on_log: hold here unless this step still evaluates or saves."""
        if not (control.should_evaluate or control.should_save):
            self._hold(control, save_on_stop=True)

    def hold_after_evaluate(self, control) -> None:
        if not control.should_save:
            self._hold(control, save_on_stop=True)

    def hold_after_save(self, control) -> None:
        self._hold(control, save_on_stop=False)  # this step's checkpoint is written

    def _hold(self, control, save_on_stop: bool) -> None:
        """A pause asked during the last step: wait here, with the step reported in full."""
        step, self._hold_at_step = self._hold_at_step, None
        if step is None:
            return
        if self.control.pause_requested and not self.control.stop_requested:
            self.recorder.status(PAUSED, f"paused after step {step}")
            paused_at = time.perf_counter()
            self.control.wait_while_paused()
            self.clock.paused_total += time.perf_counter() - paused_at
            if not self.control.stop_requested:
                self.recorder.status(TRAINING, f"resumed at step {step}")
        if self.control.stop_requested:
            control.should_training_stop = True
            control.should_save = control.should_save or save_on_stop
            self._stopping(step)

    def _log(self, state, control, logs: dict) -> None:
        step = int(state.global_step)
        epoch = logs.get("epoch", state.epoch)
        memory = memory_snapshot(self.device)
        common = {
            "step": step,
            "epoch": float(epoch) if epoch is not None else None,
            "memory_allocated": memory.allocated,
            "memory_reserved": memory.reserved,
            "memory_peak": memory.peak,
            "memory_kind": memory.kind,
            "elapsed_s": round(self.clock.offset_s + self.clock.elapsed(), 3),
            "max_steps": self.max_steps,
            "time": round(time.time(), 3),
        }
        records = []
        if "loss" in logs:
            tokens_per_second, tokens_seen = self._throughput(logs)
            records.append(
                MetricRecord(
                    kind="train",
                    loss=_number(logs.get("loss")),
                    learning_rate=_number(logs.get("learning_rate")),
                    grad_norm=_number(logs.get("grad_norm")),
                    tokens_per_second=tokens_per_second,
                    tokens_seen=tokens_seen,
                    eta_s=self.clock.eta(step, self.max_steps),
                    **_preference_rewards(logs, ""),
                    **_grpo_rewards(logs, ""),
                    **common,
                )
            )
        if "eval_loss" in logs:
            records.append(
                MetricRecord(
                    kind="eval",
                    eval_loss=_number(logs["eval_loss"]),
                    **_preference_rewards(logs, "eval_"),
                    **_grpo_rewards(logs, "eval_"),
                    **common,
                )
            )
        for record in records:
            if record.kind == "eval":
                self._early_stopping(record, control)
            for advice in self.recorder.record(record):
                if advice.action == "stop" and self.stop_on_divergence and not self.diverged_reason:
                    self.diverged_reason = f"{advice.title} at step {advice.step}. {advice.message}"
                    control.should_training_stop = True
                    control.should_save = False

    def _early_stopping(self, record: MetricRecord, control) -> None:
        """Stop once the stage's held-out measure (held_out.py) has not improved for
        `early_stopping_patience` evaluations."""
        measure = self.held_out
        value = measure.value(record)
        if value is None:
            return
        if self._best_eval is None or measure.better(value, self._best_eval[0]):
            self._best_eval = (value, record.step)
            self._evals_since_best = 0
            return
        self._evals_since_best += 1
        patience = self.early_stopping_patience
        if patience and self._evals_since_best >= patience and not self.early_stopped_reason:
            self.early_stopped_reason = (
                f"Early stopping at step {record.step}: the {measure.name} has not improved "
                f"for {patience} evaluations (best {self._best_eval[0]:.4f} at step "
                f"{self._best_eval[1]})."
            )
            self.recorder.log(self.early_stopped_reason)
            control.should_training_stop = True
            control.should_save = True

    def _throughput(self, logs: dict) -> tuple[float | None, int | None]:
        tokens = logs.get("num_tokens")
        if tokens is None:
            return None, None
        tokens = float(tokens)
        now = self.clock.elapsed()
        rate = None
        if self.last_tokens is not None and now > self.last_tokens[1]:
            rate = (tokens - self.last_tokens[0]) / (now - self.last_tokens[1])
        elif self.last_tokens is None and now > 0:
            rate = tokens / now
        self.last_tokens = (tokens, now)
        return (round(rate, 2) if rate is not None else None), int(tokens) + self.tokens_offset

    def _saved(self, args, state) -> None:
        step = int(state.global_step)
        path = Path(args.output_dir) / f"checkpoint-{step}"
        self.recorder.checkpoint_saved(step, path, self.clock.offset_s + self.clock.elapsed())


# TRL's DPO log names -> our MetricRecord fields.
_PREFERENCE_REWARDS = {
    "rewards/chosen": "rewards_chosen",
    "rewards/rejected": "rewards_rejected",
    "rewards/margins": "rewards_margin",
    "rewards/accuracies": "rewards_accuracy",
}


def _preference_rewards(logs: dict, prefix: str) -> dict:
    """DPO's reward metrics in a log (none for other stages)."""
    return {
        ours: _number(logs[prefix + theirs])
        for theirs, ours in _PREFERENCE_REWARDS.items()
        if prefix + theirs in logs
    }


# TRL's GRPO log names -> our MetricRecord fields.
_GRPO_METRICS = {
    "reward": "reward",
    "reward_std": "reward_std",
    "kl": "kl",
    "completions/mean_length": "completion_length",
}


def _grpo_rewards(logs: dict, prefix: str) -> dict:
    """GRPO's reward metrics in a log: the total's mean and spread, KL, answer length and
    each reward's mean and spread (none for other stages)."""
    out = {
        ours: _number(logs[prefix + theirs])
        for theirs, ours in _GRPO_METRICS.items()
        if prefix + theirs in logs
    }
    parts: dict[str, dict] = {}
    head = prefix + "rewards/"
    for key, value in logs.items():
        if key.startswith(head) and key.count("/") == 2 + prefix.count("/"):
            name, stat = key[len(head) :].rsplit("/", 1)
            if stat in ("mean", "std"):
                parts.setdefault(name, {})[stat] = _number(value)
    if parts:
        out["reward_parts"] = parts
    return out


def _number(value) -> float | None:
    """A float (NaN and inf kept: the advisor needs to see them), or None."""
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def make_callback(logic: StudioCallbackLogic):
    """A transformers TrainerCallback that forwards to `logic`."""
    global _CALLBACK_CLASS
    if _CALLBACK_CLASS is None:
        # transformers is heavy: loaded when a model is
        from transformers import TrainerCallback

        class StudioCallback(TrainerCallback):
            def __init__(self, logic: StudioCallbackLogic) -> None:
                self.logic = logic

            def on_train_begin(self, args, state, control, **kwargs):
                self.logic.train_begin(state)
                return control

            def on_step_begin(self, args, state, control, **kwargs):
                self.logic.step_begin(state, control)
                return control

            def on_step_end(self, args, state, control, **kwargs):
                self.logic.step_end(state, control)
                return control

            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs:
                    self.logic.log(state, control, logs)
                self.logic.hold_after_log(control)
                return control

            def on_evaluate(self, args, state, control, **kwargs):
                self.logic.hold_after_evaluate(control)
                return control

            def on_save(self, args, state, control, **kwargs):
                self.logic.saved(args, state)
                self.logic.hold_after_save(control)
                return control

        _CALLBACK_CLASS = StudioCallback
    return _CALLBACK_CLASS(logic)
