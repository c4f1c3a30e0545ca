"""Pre-flight: a few real optimizer steps on the longest batch before committing to a run.

It measures the peak memory and the step time on the worst batch the run will see
(with packing, full rows of max_seq_length tokens; without, the longest examples padded
together), compares them with the estimator when it is installed, and when the run
would not fit proposes settings that do: a smaller micro batch with more accumulation
(the same effective batch), gradient checkpointing, QLoRA, a shorter sequence length.
Proposals are checked with real steps too when `verify` is on.

A DPO recipe is measured the same way with DPO's own steps (real_steps.dpo_steps_trainer):
the pairs that put the most tokens through the model, chosen and rejected of each in one
batch and the reference forward beside them, as the run will do.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.estimate import GpuSpec, detected_gpu, estimate, load_architecture
from core.estimate.cpu_ram import estimate_cpu_ram, this_machine_ram
from core.estimate.fit import (
    Suggestion,
    choose,
    measured_predictor,
    recipe_remedies,
    suggest_for_recipe,
)
from core.estimate.run import run_for_recipe
from core.figures import duration_text
from core.hardware.detect import detect_hardware
from core.recipe.config import TrainConfig, TrainConfigError
from core.training.chat_tokens import IGNORE_INDEX, TokenizedSplit
from core.training.device import (
    DevicePlan,
    cpu_threads,
    device_memory_budget,
    free_accelerator_memory,
    memory_snapshot,
    reset_peak_memory,
    resolve_device,
)
from core.training.dpo_data import PreparedPreferences, count_pair_tokens, longest_pairs
from core.training.memory_guard import MemoryGuard, MemoryGuardInterrupt, MemoryLimits
from core.training.model_loading import load_base_model, load_tokenizer, quiet_progress_bars
from core.training.prepare import resolve_base_model, tokenize_data
from core.training.real_steps import dpo_steps_trainer, steps_trainer
from core.training.run_plan import StepTiming, plan_run
from core.training.schedule import total_steps
from core.training.stage_data import read_stage_data
from core.training.start_from import adapter_to_continue, load_adapter

PREFLIGHT_STEPS = 3


def step_timing(report: PreflightReport) -> StepTiming | None:
    """Pre-flight's measured micro batch as the run plan's timing, saying the load."""
    if not report.micro_step_time_s or not report.batch_tokens:
        return None
    where = f"measured by pre-flight on {report.device}"
    if report.cpu_share is not None:
        where += f", {report.cpu_share:.0%} of its CPU threads"
    if report.load_average is not None:
        where += f", load {report.load_average:.1f}"
    return StepTiming(report.micro_step_time_s, report.batch_tokens, where)


# Three steps of a model that fits take seconds to a few minutes on a CPU; a pre-flight
# still going after this long is swapping or far too big, and says so.
PREFLIGHT_TIME_LIMIT_S = 15 * 60
# Leave room for fragmentation, the CUDA context and whatever else runs on the card.
USABLE_FRACTION = 0.92
GIB = 1024**3


class PreflightCancelled(Exception):
    """The user cancelled the pre-flight check."""


@dataclass
class PreflightWatch:
    """What pre-flight reports as it goes and when it must end early.

    progress(message) is called with "loading the model", "step 2 of 3" and the like;
    should_stop() returns why to stop now ("" to go on: the memory guard's reason, or the
    user's cancel); the time limit ends a check that takes far too long.
    """

    progress: Callable[[str], None] = lambda _message: None
    should_stop: Callable[[], str] = lambda: ""
    cancelled: Callable[[], bool] = lambda: False
    time_limit_s: float = PREFLIGHT_TIME_LIMIT_S
    started: float = field(default_factory=time.monotonic)

    def stop_reason(self) -> str:
        if self.cancelled():
            return "cancelled"
        reason = self.should_stop()
        if reason:
            return reason
        if time.monotonic() - self.started > self.time_limit_s:
            return (
                f"it hit its time limit of {duration_text(self.time_limit_s)} (the machine may be "
                "swapping, or the run is far too big for it)"
            )
        return ""

    def check(self) -> None:
        """Between phases: raise PreflightCancelled on a cancel, PreflightStopped otherwise."""
        reason = self.stop_reason()
        if reason == "cancelled":
            raise PreflightCancelled("Pre-flight cancelled.")
        if reason:
            raise PreflightStopped(reason)


class PreflightStopped(Exception):
    """Pre-flight ended early: the memory guard, or the time limit (the message says)."""


@dataclass
class PreflightReport:
    fits: bool
    device: str
    memory_kind: str
    peak_memory_bytes: int | None
    static_memory_bytes: int | None  # after loading the model, before the first step
    budget_bytes: int | None
    micro_step_time_s: float | None  # one micro batch of `batch_tokens` (the longest batch)
    # One optimizer step of the run, on average: the run plan's, which counts the micro
    # batches a step really has (a small dataset's epoch may hold fewer than the
    # accumulation) and their real tokens (most rows are shorter than the longest batch).
    step_time_s: float | None
    estimated_run_time_s: float | None
    batch_tokens: int
    out_of_memory: bool = False
    # The load the steps were timed under: this process's CPU time over wall time x
    # threads (1.0: it had its threads to itself), and the 1-minute load average. The time
    # is measured under that load and predicts a run under the same load.
    cpu_share: float | None = None
    load_average: float | None = None
    error: str = ""
    estimate: dict | None = None
    suggestions: list[Suggestion] = field(default_factory=list)
    stopped: str = ""  # why the check ended before its steps (memory guard, time limit)
    measured: bool = True  # False: not run, the estimate alone says it cannot fit

    @property
    def message(self) -> str:
        peak = _gib(self.peak_memory_bytes)
        budget = _gib(self.budget_bytes)
        where = "RAM (process resident memory)" if self.memory_kind == "cpu-rss" else "GPU memory"
        if not self.measured and self.estimate:
            text = (
                f"Not run: this run would need {self.estimate.get('summary', '')}, so "
                "pre-flight did not start it (the system would close the app)."
            )
        elif self.stopped:
            text = f"Pre-flight stopped early: {self.stopped}."
        elif self.out_of_memory:
            text = f"The longest batch ran out of {where} ({self.error})."
        elif self.fits:
            text = f"The longest batch fits: peak {peak} of {budget} {where}"
            if self.step_time_s is not None:
                text += f", {self.step_time_s:.2f} s per optimizer step"
            if self.estimated_run_time_s is not None:
                text += (
                    f", about {duration_text(self.estimated_run_time_s, rough=True)} for the run"
                )
            text += "."
        else:
            text = f"The longest batch needs {peak}, more than the {budget} of {where} available."
        if self.measured and self.estimate and self.estimate.get("peak_bytes"):
            measured = self.peak_memory_bytes
            text += f" The estimator predicted {_gib(self.estimate['peak_bytes'])}"
            if measured:
                text += f" ({measured / self.estimate['peak_bytes']:.2f}x measured/estimated)"
            if self.memory_kind == "cpu-rss":
                text += " for the whole process"
            text += "."
        if self.suggestions:
            text += (
                " Settings that should fit: " + "; ".join(s.label for s in self.suggestions) + "."
            )
        return text

    def as_dict(self) -> dict:
        return {
            "fits": self.fits,
            "device": self.device,
            "memory_kind": self.memory_kind,
            "peak_memory_bytes": self.peak_memory_bytes,
            "static_memory_bytes": self.static_memory_bytes,
            "budget_bytes": self.budget_bytes,
            "micro_step_time_s": self.micro_step_time_s,
            "step_time_s": self.step_time_s,
            "estimated_run_time_s": self.estimated_run_time_s,
            "batch_tokens": self.batch_tokens,
            "cpu_share": self.cpu_share,
            "load_average": self.load_average,
            "out_of_memory": self.out_of_memory,
            "error": self.error,
            "estimate": self.estimate,
            "suggestions": [s.as_dict() for s in self.suggestions],
            "stopped": self.stopped,
            "measured": self.measured,
            "message": self.message,
        }


def _gib(value: int | None) -> str:
    return "?" if value is None else f"{value / GIB:.2f} GiB"


def is_out_of_memory(error: BaseException) -> bool:
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    oom_types = tuple(
        t
        for t in (
            getattr(torch, "OutOfMemoryError", None),
            getattr(torch.cuda, "OutOfMemoryError", None),
        )
        if t
    )
    if isinstance(error, (*oom_types, MemoryError)):
        return True  # MemoryError: CPU allocation failed, or the memory guard interrupted
    # MPS and some CPU allocators raise a RuntimeError that says so.
    text = str(error).lower()
    return isinstance(error, RuntimeError) and "out of memory" in text


def longest_batch_rows(train: TokenizedSplit, config: TrainConfig) -> list[dict]:
    """The worst micro batch the run will see, as training rows."""
    by_length = sorted(train.examples, key=lambda e: len(e.input_ids), reverse=True)
    rows = []
    if config.packing:
        # Packed rows are (close to) max_seq_length tokens each: fill rows from the
        # longest examples.
        pool = [e for e in by_length if e.input_ids] or by_length
        cursor = 0
        for _ in range(config.micro_batch_size):
            ids: list[int] = []
            labels: list[int] = []
            while len(ids) < config.max_seq_length:
                example = pool[cursor % len(pool)]
                cursor += 1
                ids += example.input_ids
                labels += example.labels
            ids, labels = ids[: config.max_seq_length], labels[: config.max_seq_length]
            if all(label == IGNORE_INDEX for label in labels):
                labels = list(ids)
            rows.append({"input_ids": ids, "labels": labels})
        return rows
    for example in (by_length * config.micro_batch_size)[: config.micro_batch_size]:
        ids = example.input_ids[: config.max_seq_length]
        labels = example.labels[: config.max_seq_length]
        if all(label == IGNORE_INDEX for label in labels):
            labels = list(ids)
        rows.append({"input_ids": ids, "labels": labels})
    return rows


def estimator_settings(config: TrainConfig, plan: DevicePlan, n_train: int, train_tokens: int):
    """The estimator's view of this run: the recipe as the trainer resolved it on this device."""
    return run_for_recipe(
        config,
        resolved_precision=plan.precision,
        used_optimizer=plan.optimizer,
        device=plan.device,
        examples=max(1, n_train),
        dataset_tokens=train_tokens or None,
    )


def core_estimate(
    config: TrainConfig, plan: DevicePlan, model_path: Path, n_train: int = 0, train_tokens: int = 0
) -> dict | None:
    """The estimator's prediction for these settings:
    {"peak_bytes", "fits", "hours", "gpu", "summary"} or {"error": ...}. On the CPU (and
    MPS, which shares RAM) the peak is the whole process's RAM, compared with the RAM
    available now."""
    try:
        settings = estimator_settings(config, plan, n_train, train_tokens)
        model = load_architecture(model_path)
        if plan.device != "cuda":
            ram = estimate_cpu_ram(model, settings, *this_machine_ram())
            return {
                "peak_bytes": ram.peak_bytes,
                "fits": ram.fits,
                "hours": None,
                "gpu": "RAM",
                "available_bytes": ram.available_bytes,
                "summary": ram.summary(),
            }
        gpu = detected_gpu(detect_hardware())
        if gpu is None:
            budget = device_memory_budget(plan.device) or 16 * GIB
            gpu = GpuSpec(name=plan.device.upper(), memory_gib=budget / GIB, tflops=1.0)
        result = estimate(model, settings, gpu)
        return {
            "peak_bytes": int(result.peak_gib * GIB),
            "fits": bool(result.fits),
            "hours": float(result.hours),
            "gpu": gpu.name,
            "summary": result.fit_summary(),
        }
    except Exception as error:  # the estimator is advice; never let it stop a run
        return {"error": f"{type(error).__name__}: {error}"}


def estimated_ram_suggestions(config: TrainConfig, plan: DevicePlan, model_path: Path) -> list:
    """When the estimate says a CPU run cannot fit: the fit engine's remedies, each judged
    by the estimator's RAM figure, those expected to fit first."""
    trials: dict[str, dict] = {}

    def predict(changes: dict):
        trial = core_estimate(config.replace(**changes), plan, model_path)
        if not trial or not trial.get("peak_bytes"):
            return None
        trials[repr(sorted(changes.items()))] = trial
        return int(trial["peak_bytes"]), bool(trial.get("fits")), None

    suggestions = choose(recipe_remedies(config, plan.device), predict, keep_closest=True)
    for suggestion in suggestions:
        trial = trials.get(repr(sorted(suggestion.changes.items())))
        if trial is not None:
            suggestion.reason += f" Estimated: {trial['summary']}."
    suggestions.sort(key=lambda s: not s.fits_estimate)
    return suggestions[:4]


def measure(
    config: TrainConfig,
    plan: DevicePlan,
    model_path: Path,
    tokenizer,
    rows: list[dict],
    output_dir: Path,
    watch: PreflightWatch | None = None,
    batch_tokens: int | None = None,
    adapter_dir: Path | None = None,
) -> PreflightReport:
    """Load the model, run PREFLIGHT_STEPS real steps on `rows`, measure, clean up.

    `rows` are training rows (input_ids, labels) or, for a DPO recipe, preference records
    (prompt, chosen, rejected) with the `batch_tokens` they put through the model.
    `adapter_dir`: the finished run's adapter the run continues (start_from), loaded
    trainable onto the base as the run loads it, instead of a new LoRA. A stop
    asked through `watch` ends the steps early (report.stopped says why); a cancel raises
    PreflightCancelled."""
    # datasets is heavy: loaded when data is tokenized
    from datasets import Dataset

    budget = device_memory_budget(plan.device)
    if batch_tokens is None:
        batch_tokens = sum(len(row["input_ids"]) for row in rows)
    build_trainer = dpo_steps_trainer if config.stage == "dpo" else steps_trainer
    # One micro batch per step, the rows as they are (already the packed worst case).
    probe = config.replace(gradient_accumulation=1, packing=False)
    step_times: list[float] = []
    cpu_times: list[float] = []
    peaks: list[int] = []
    model = trainer = None
    static = None
    report_error = ""
    oom = False
    watch = watch or PreflightWatch()
    stopped: list[str] = []
    try:
        free_accelerator_memory(plan.device)
        reset_peak_memory(plan.device)
        watch.progress("loading the model")
        with quiet_progress_bars():
            model = load_base_model(config, plan, model_path)
            if adapter_dir is not None:
                model = load_adapter(model, adapter_dir)
            watch.check()
            static = memory_snapshot(plan.device).allocated
            dataset = Dataset.from_list(rows * PREFLIGHT_STEPS)
            trainer = build_trainer(
                probe, plan, model, dataset, tokenizer, output_dir, PREFLIGHT_STEPS
            )
        trainer.add_callback(
            _timing_callback(step_times, peaks, plan.device, watch, stopped, cpu_times)
        )
        watch.progress(f"step 1 of {PREFLIGHT_STEPS} on the longest batch")
        trainer.train()
    except PreflightStopped as error:
        stopped.append(str(error))
    except Exception as error:
        if isinstance(error, MemoryGuardInterrupt):
            stopped.append(watch.stop_reason() or "the memory guard stopped it")
        elif not is_out_of_memory(error):
            raise
        else:
            oom = True
            report_error = (str(error).splitlines() or [type(error).__name__])[0][:200]
    finally:
        del trainer, model
        free_accelerator_memory(plan.device)
        shutil.rmtree(output_dir, ignore_errors=True)
    peak = max(peaks) if peaks else None
    # The first step pays for allocations and lazy initialisation; time the others.
    timed = step_times[1:] or step_times
    micro = sum(timed) / len(timed) if timed else None
    # Until run_preflight_prepared counts the run's real micro batches: a full step.
    step = micro * config.gradient_accumulation if micro is not None else None
    cpu_share = None
    if timed and plan.device == "cpu":
        import torch  # heavy, and loaded already: the steps ran with it

        busy = sum(cpu_times[1:] or cpu_times)
        cpu_share = round(busy / (sum(timed) * max(1, torch.get_num_threads())), 2)
    if stopped and stopped[0] == "cancelled":
        raise PreflightCancelled("Pre-flight cancelled.")
    fits = (
        not oom
        and not stopped
        and (peak is None or budget is None or peak <= budget * USABLE_FRACTION)
    )
    return PreflightReport(
        fits=fits,
        device=plan.device,
        memory_kind=plan.memory_kind,
        peak_memory_bytes=peak,
        static_memory_bytes=static,
        budget_bytes=budget,
        micro_step_time_s=micro,
        step_time_s=step,
        estimated_run_time_s=None,
        batch_tokens=batch_tokens,
        out_of_memory=oom,
        error=report_error,
        stopped=stopped[0] if stopped else "",
        cpu_share=cpu_share,
        load_average=round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    )


def _timing_callback(
    step_times: list, peaks: list, device: str, watch, stopped: list, cpu_times: list
):
    # transformers is heavy: loaded when a model is
    from transformers import TrainerCallback

    class PreflightTiming(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self.started = time.perf_counter()
            self.cpu_started = time.process_time()

        def on_step_end(self, args, state, control, **kwargs):
            if device == "cuda":
                # torch is heavy (seconds to import): loaded when a model is
                import torch

                torch.cuda.synchronize()
            step_times.append(time.perf_counter() - self.started)
            cpu_times.append(time.process_time() - self.cpu_started)
            snapshot = memory_snapshot(device)
            peaks.append(max(v for v in (snapshot.peak, snapshot.allocated) if v is not None))
            reason = watch.stop_reason()
            if reason:
                stopped.append(reason)
                control.should_training_stop = True
            elif state.global_step < PREFLIGHT_STEPS:
                watch.progress(
                    f"step {state.global_step + 1} of {PREFLIGHT_STEPS} on the longest batch"
                )

    return PreflightTiming()


def suggestions_for_report(
    config: TrainConfig, report: PreflightReport, limit: int = 4
) -> list[Suggestion]:
    """The fit engine's suggestions (core.estimate.fit), predicted from the report's
    measurement when it has one (the activations scaled to a smaller micro batch, or to
    checkpointing); pre-flight then verifies the best of them with real steps."""
    predict = None
    peak, static, budget = report.peak_memory_bytes, report.static_memory_bytes, report.budget_bytes
    if peak is not None and static is not None and budget:
        predict = measured_predictor(config, static, peak, int(budget * USABLE_FRACTION))
    return suggest_for_recipe(config, report.device, predict, limit)


def run_preflight_prepared(
    config: TrainConfig,
    plan: DevicePlan,
    model_path: Path,
    tokenizer,
    train: TokenizedSplit,
    total_steps: int | None,
    work_dir: Path,
    verify: bool = False,
    watch: PreflightWatch | None = None,
    valid: TokenizedSplit | None = None,
    adapter_dir: Path | None = None,
) -> PreflightReport:
    """Pre-flight of an SFT recipe on its tokenized conversations. adapter_dir: the adapter
    the run continues (start_from.adapter_to_continue), trained instead of a new LoRA."""

    def longest(trial: TrainConfig) -> tuple[list[dict], int | None]:
        return longest_batch_rows(train, trial), None

    return _check(
        config,
        plan,
        model_path,
        tokenizer,
        longest,
        [len(example.input_ids) for example in train.examples],
        [len(e.input_ids) for e in valid.examples] if valid else None,
        train.n_tokens,
        work_dir,
        verify,
        watch,
        adapter_dir,
    )


def run_dpo_preflight_prepared(
    config: TrainConfig,
    plan: DevicePlan,
    model_path: Path,
    tokenizer,
    data: PreparedPreferences,
    work_dir: Path,
    verify: bool = False,
    watch: PreflightWatch | None = None,
    adapter_dir: Path | None = None,
) -> PreflightReport:
    """Pre-flight of a DPO recipe on its preference pairs: real DPO steps on the longest
    pairs (each pair's tokens counted here when not yet). adapter_dir: the adapter the run
    continues (start_from.adapter_to_continue), so the policy and its reference are the
    run's."""
    if len(data.train_lengths) != len(data.train):
        count_pair_tokens(data, tokenizer, config.max_seq_length)

    def longest(trial: TrainConfig) -> tuple[list[dict], int | None]:
        return longest_pairs(data, trial.micro_batch_size)

    return _check(
        # A DPO step puts both sides of each pair through the model, never packed.
        config.replace(packing=False),
        plan,
        model_path,
        tokenizer,
        longest,
        data.train_lengths,
        data.valid_lengths or None,
        sum(data.train_lengths),
        work_dir,
        verify,
        watch,
        adapter_dir,
    )


def _check(
    config: TrainConfig,
    plan: DevicePlan,
    model_path: Path,
    tokenizer,
    longest: Callable[[TrainConfig], tuple[list[dict], int | None]],
    lengths: list[int],
    valid_lengths: list[int] | None,
    train_tokens: int,
    work_dir: Path,
    verify: bool,
    watch: PreflightWatch | None,
    adapter_dir: Path | None = None,
) -> PreflightReport:
    """Estimate, measure the longest batch (`longest(config)`: its rows and, when they are
    not input_ids rows, their tokens), time the run by its plan, and when it would not fit
    suggest settings, verified with real steps when `verify` is on."""
    watch = watch or PreflightWatch()
    watch.progress("estimating the memory the run needs")
    estimate = core_estimate(config, plan, model_path, len(lengths), train_tokens)
    if plan.device != "cuda" and estimate and estimate.get("fits") is False:
        # Measuring would grow this process past the machine's RAM, and the kernel's OOM
        # killer would close the app: say what to change instead.
        return PreflightReport(
            fits=False,
            device=plan.device,
            memory_kind=plan.memory_kind,
            peak_memory_bytes=None,
            static_memory_bytes=None,
            budget_bytes=estimate.get("available_bytes"),
            micro_step_time_s=None,
            step_time_s=None,
            estimated_run_time_s=None,
            batch_tokens=config.micro_batch_size * config.max_seq_length,
            estimate=estimate,
            suggestions=estimated_ram_suggestions(config, plan, model_path),
            measured=False,
        )
    rows, batch_tokens = longest(config)
    report = measure(
        config, plan, model_path, tokenizer, rows, work_dir, watch, batch_tokens, adapter_dir
    )
    if report.micro_step_time_s:
        # The run's time from the run plan: the measured seconds per token of the longest
        # batch, times the tokens the run computes.
        run = plan_run(config, lengths, step_timing(report), valid_lengths=valid_lengths)
        report.estimated_run_time_s = run.seconds
        report.step_time_s = run.seconds_per_step
    report.estimate = estimate
    if not report.fits:
        report.suggestions = suggestions_for_report(config, report)
        if verify and not report.stopped:
            for suggestion in report.suggestions[:3]:
                trial_config = config.replace(**suggestion.changes)
                watch.progress(f"trying {suggestion.label}")
                trial_rows, trial_tokens = longest(trial_config)
                trial = measure(
                    trial_config,
                    plan,
                    model_path,
                    tokenizer,
                    trial_rows,
                    work_dir,
                    watch,
                    trial_tokens,
                    adapter_dir,
                )
                suggestion.estimated_peak_bytes = trial.peak_memory_bytes
                if trial.stopped:
                    break
                if trial.fits:
                    suggestion.verified = True
                    report.suggestions.remove(suggestion)
                    report.suggestions.insert(0, suggestion)
                    break
    return report


def run_preflight(
    project,
    config: TrainConfig,
    verify: bool = True,
    report: Callable[[float, str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    time_limit_s: float = PREFLIGHT_TIME_LIMIT_S,
) -> PreflightReport:
    """Pre-flight for a config on its own (the Train page's "Pre-flight check" button).

    report(fraction, message) hears each phase; cancelled() ends it with PreflightCancelled.
    The memory guard watches it as it watches a run; if it trips, the report says why."""
    if config.stage == "grpo":
        raise TrainConfigError(
            "stage",
            "pre-flight times SFT and DPO steps; a GRPO run's own pre-flight samples a group of "
            "answers, times and scores them before step 1, and the rewards editor's "
            "'Sample the model's answers' does the same now.",
        )
    phases = {"reading": 0.05, "loading": 0.2, "step 1": 0.4, "step 2": 0.6, "step 3": 0.8}

    def progress(message: str) -> None:
        if report is not None:
            fraction = next((f for key, f in phases.items() if message.startswith(key)), 0.1)
            report(fraction, f"Pre-flight: {message}…")

    guard = MemoryGuard(MemoryLimits.from_config(config), on_stop=lambda _reason: None)
    watch = PreflightWatch(
        progress=progress,
        should_stop=lambda: guard.stop_reason,
        cancelled=cancelled or (lambda: False),
        time_limit_s=time_limit_s,
    )
    guard.start(threading.get_ident())
    try:
        progress("reading and tokenizing the data")
        base = resolve_base_model(project, config)
        # the policy as the run loads it: a continued run's adapter (start_from), checked
        # before anything is read or loaded
        adapter_dir = adapter_to_continue(project, config, base.path)
        data = read_stage_data(project, config)
        plan = resolve_device(config)
        guard.watch_gpu = plan.device == "cuda"
        tokenizer = load_tokenizer(base.path)
        if isinstance(data, PreparedPreferences):
            count_pair_tokens(data, tokenizer, config.max_seq_length)
            watch.check()
            with (
                tempfile.TemporaryDirectory(prefix="preflight-") as work,
                cpu_threads(config, plan),
            ):
                return run_dpo_preflight_prepared(
                    config,
                    plan,
                    base.path,
                    tokenizer,
                    data,
                    Path(work) / "out",
                    verify,
                    watch,
                    adapter_dir,
                )
        tokenize_data(data, tokenizer, config, base.name)
        watch.check()
        rows_estimate = len(data.train_tokens.examples)
        if config.packing:
            rows_estimate = max(1, -(-data.train_tokens.n_tokens // config.max_seq_length))
        with tempfile.TemporaryDirectory(prefix="preflight-") as work, cpu_threads(config, plan):
            return run_preflight_prepared(
                config,
                plan,
                base.path,
                tokenizer,
                data.train_tokens,
                total_steps(rows_estimate, config),
                Path(work) / "out",
                verify=verify,
                watch=watch,
                valid=data.valid_tokens,
                adapter_dir=adapter_dir,
            )
    except (PreflightStopped, MemoryGuardInterrupt) as error:
        # Stopped before the steps (while reading the data): nothing measured.
        reason = guard.stop_reason if isinstance(error, MemoryGuardInterrupt) else str(error)
        stopped = PreflightReport(
            fits=False,
            device=config.device,
            memory_kind="",
            peak_memory_bytes=None,
            static_memory_bytes=None,
            budget_bytes=None,
            micro_step_time_s=None,
            step_time_s=None,
            estimated_run_time_s=None,
            batch_tokens=0,
            stopped=reason or "the memory guard stopped it",
        )
        stopped.suggestions = suggestions_for_report(config, stopped)
        return stopped
    finally:
        guard.close()
