"""Pre-flight: a few real optimizer steps on the longest batch before committing to a run.

It measures the peak memory and the step time on the worst batch the run will see
(with packing, full rows of max_seq_length tokens; without, the longest examples padded
together), compares them with the estimator when it is installed, and when the run
would not fit proposes settings that do: a smaller micro batch with more accumulation
(the same effective batch), gradient checkpointing, QLoRA, a shorter sequence length.
Proposals are checked with real steps too when `verify` is on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from core.training.chat_tokens import IGNORE_INDEX, TokenizedSplit
from core.training.config import TrainConfig
from core.training.device import (
    DevicePlan,
    device_memory_budget,
    free_accelerator_memory,
    memory_snapshot,
    reset_peak_memory,
)

PREFLIGHT_STEPS = 3
# Leave room for fragmentation, the CUDA context and whatever else runs on the card.
USABLE_FRACTION = 0.92
GIB = 1024**3


@dataclass
class Suggestion:
    """A change of settings that should fit, and why."""

    label: str
    changes: dict
    reason: str
    estimated_peak_bytes: int | None = None
    verified: bool = False  # pre-flight ran with it and it fitted

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "changes": dict(self.changes),
            "reason": self.reason,
            "estimated_peak_bytes": self.estimated_peak_bytes,
            "verified": self.verified,
        }


@dataclass
class PreflightReport:
    fits: bool
    device: str
    memory_kind: str
    peak_memory_bytes: int | None
    static_memory_bytes: int | None  # after loading the model, before the first step
    budget_bytes: int | None
    micro_step_time_s: float | None
    step_time_s: float | None  # one optimizer step (micro step x accumulation)
    estimated_run_time_s: float | None
    batch_tokens: int
    out_of_memory: bool = False
    error: str = ""
    estimate: dict | None = None
    suggestions: list[Suggestion] = field(default_factory=list)

    @property
    def message(self) -> str:
        peak = _gib(self.peak_memory_bytes)
        budget = _gib(self.budget_bytes)
        where = "RAM (process resident memory)" if self.memory_kind == "cpu-rss" else "GPU memory"
        if self.out_of_memory:
            text = f"The longest batch ran out of {where} ({self.error})."
        elif self.fits:
            text = f"The longest batch fits: peak {peak} of {budget} {where}"
            if self.step_time_s is not None:
                text += f", {self.step_time_s:.2f} s per optimizer step"
            if self.estimated_run_time_s is not None:
                text += f", about {_duration(self.estimated_run_time_s)} for the run"
            text += "."
        else:
            text = f"The longest batch needs {peak}, more than the {budget} of {where} available."
        if self.estimate and self.estimate.get("peak_bytes"):
            measured = self.peak_memory_bytes
            text += f" The estimator predicted {_gib(self.estimate['peak_bytes'])}"
            if measured and self.memory_kind != "cpu-rss":
                text += f" ({measured / self.estimate['peak_bytes']:.2f}x measured/estimated)"
            elif measured:
                text += " for the tensors alone (the CPU figure is the whole process)"
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
            "out_of_memory": self.out_of_memory,
            "error": self.error,
            "estimate": self.estimate,
            "suggestions": [s.as_dict() for s in self.suggestions],
            "message": self.message,
        }


def _gib(value: int | None) -> str:
    return "?" if value is None else f"{value / GIB:.2f} GiB"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def is_out_of_memory(error: BaseException) -> bool:
    import torch

    oom_types = tuple(
        t
        for t in (
            getattr(torch, "OutOfMemoryError", None),
            getattr(torch.cuda, "OutOfMemoryError", None),
        )
        if t
    )
    if isinstance(error, oom_types):
        return True
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
    """core.estimate's RunSettings for this run (what the Estimate page would be told)."""
    from core.estimate.from_train_config import run_settings_from_train_config

    return run_settings_from_train_config(
        config,
        precision=plan.precision,
        optimizer=plan.optimizer,
        device=plan.device,
        examples=max(1, n_train),
        dataset_tokens=train_tokens or None,
    )


def core_estimate(
    config: TrainConfig, plan: DevicePlan, model_path: Path, n_train: int = 0, train_tokens: int = 0
) -> dict | None:
    """The estimator's prediction for these settings, when core.estimate is installed:
    {"peak_bytes", "fits", "hours", "gpu", "summary"} or {"error": ...}."""
    try:
        from core.estimate import GpuSpec, detected_gpu, estimate, load_architecture
    except ImportError:
        return None
    try:
        settings = estimator_settings(config, plan, n_train, train_tokens)
        model = load_architecture(model_path)
        gpu = None
        if plan.device == "cuda":
            from core.hardware.detect import detect_hardware

            gpu = detected_gpu(detect_hardware())
        if gpu is None:
            # The estimator models GPU memory; on the CPU or MPS its peak is still the
            # tensors' share, compared with the whole process's resident memory.
            budget = device_memory_budget(plan.device) or 16 * GIB
            gpu = GpuSpec(name=plan.device.upper(), memory_gib=budget / GIB, tflops=1.0)
        result = estimate(model, settings, gpu)
        return {
            "peak_bytes": int(result.peak_gib * GIB),
            "fits": bool(result.fits),
            "hours": float(result.hours) if plan.device == "cuda" else None,
            "gpu": gpu.name,
            "summary": result.fit_summary(),
        }
    except Exception as error:  # the estimator is advice; never let it stop a run
        return {"error": f"{type(error).__name__}: {error}"}


def measure(
    config: TrainConfig,
    plan: DevicePlan,
    model_path: Path,
    tokenizer,
    rows: list[dict],
    output_dir: Path,
) -> PreflightReport:
    """Load the model, run PREFLIGHT_STEPS real steps on `rows`, measure, clean up."""
    import shutil

    from datasets import Dataset
    from trl import SFTTrainer

    from core.training.model_loading import (
        drop_console_printer,
        load_base_model,
        lora_config,
        match_adapter_dtype,
        quiet_progress_bars,
    )
    from core.training.sft_args import (
        Schedule,
        build_sft_config,
        build_sft_kwargs,
        trainer_tokenizer_kwarg,
    )

    budget = device_memory_budget(plan.device)
    batch_tokens = sum(len(row["input_ids"]) for row in rows)
    probe = config.replace(
        gradient_accumulation=1,
        max_steps=PREFLIGHT_STEPS,
        packing=False,  # the rows are already the packed worst case
        warmup_ratio=0.0,
    )
    schedule = Schedule(
        log_every=1, eval_every=0, save_every=10**9, keep_checkpoints=1, load_best_at_end=False
    )
    kwargs, _notes = build_sft_kwargs(probe, plan, schedule, output_dir, False, 0)
    kwargs["save_strategy"] = "no"
    step_times: list[float] = []
    peaks: list[int] = []
    model = trainer = None
    static = None
    report_error = ""
    oom = False
    try:
        free_accelerator_memory(plan.device)
        reset_peak_memory(plan.device)
        with quiet_progress_bars():
            model = load_base_model(config, plan, model_path)
            static = memory_snapshot(plan.device).allocated
            dataset = Dataset.from_list(rows * PREFLIGHT_STEPS)
            trainer = SFTTrainer(
                model=model,
                args=build_sft_config(**kwargs),
                train_dataset=dataset,
                peft_config=lora_config(config) if config.is_adapter_method else None,
                **trainer_tokenizer_kwarg(tokenizer),
            )
        drop_console_printer(trainer)
        match_adapter_dtype(trainer.model, plan)
        trainer.add_callback(_timing_callback(step_times, peaks, plan.device))
        trainer.train()
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        oom = True
        report_error = str(error).splitlines()[0][:200]
    finally:
        del trainer, model
        free_accelerator_memory(plan.device)
        shutil.rmtree(output_dir, ignore_errors=True)
    peak = max(peaks) if peaks else None
    # The first step pays for allocations and lazy initialisation; time the others.
    timed = step_times[1:] or step_times
    micro = sum(timed) / len(timed) if timed else None
    step = micro * config.gradient_accumulation if micro is not None else None
    fits = not oom and (peak is None or budget is None or peak <= budget * USABLE_FRACTION)
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
    )


def _timing_callback(step_times: list, peaks: list, device: str):
    from transformers import TrainerCallback

    class PreflightTiming(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self.started = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if device == "cuda":
                import torch

                torch.cuda.synchronize()
            step_times.append(time.perf_counter() - self.started)
            snapshot = memory_snapshot(device)
            peaks.append(max(v for v in (snapshot.peak, snapshot.allocated) if v is not None))

    return PreflightTiming()


def suggest_fitting_settings(config: TrainConfig, report: PreflightReport) -> list[Suggestion]:
    """Settings likely to fit, best first. Scales the measured activation memory when there
    is a measurement; otherwise lists the standard remedies in order of cost."""
    budget = report.budget_bytes
    usable = budget * USABLE_FRACTION if budget else None
    static = report.static_memory_bytes
    peak = report.peak_memory_bytes
    activation = (
        (peak - static) if (peak is not None and static is not None and peak > static) else None
    )

    def estimate(micro: int, checkpointing: bool) -> int | None:
        if activation is None or static is None:
            return None
        scaled = activation * micro / config.micro_batch_size
        if checkpointing and not config.gradient_checkpointing:
            scaled *= 0.35  # keeps one layer's activations plus the checkpoints
        return int(static + scaled)

    candidates: list[Suggestion] = []
    micro = config.micro_batch_size
    while micro > 1:
        micro //= 2
        factor = config.micro_batch_size // micro
        candidates.append(
            Suggestion(
                f"micro batch {micro} x accumulation {config.gradient_accumulation * factor}",
                {
                    "micro_batch_size": micro,
                    "gradient_accumulation": config.gradient_accumulation * factor,
                },
                "Same effective batch, fewer examples in memory at once; a little slower.",
                estimate(micro, False),
            )
        )
    if not config.gradient_checkpointing:
        candidates.append(
            Suggestion(
                "gradient checkpointing on",
                {"gradient_checkpointing": True},
                "Recomputes activations instead of storing them: much less memory, about 20-30 % slower.",
                estimate(config.micro_batch_size, True),
            )
        )
        smallest = max(1, config.micro_batch_size // 4)
        factor = config.micro_batch_size // smallest
        candidates.append(
            Suggestion(
                f"gradient checkpointing with micro batch {smallest} x accumulation "
                f"{config.gradient_accumulation * factor}",
                {
                    "gradient_checkpointing": True,
                    "micro_batch_size": smallest,
                    "gradient_accumulation": config.gradient_accumulation * factor,
                },
                "Both memory savers together.",
                estimate(smallest, True),
            )
        )
    if config.method in ("full", "lora", "lora8bit"):
        candidates.append(
            Suggestion(
                "QLoRA (4-bit base model)",
                {"method": "qlora", "learning_rate": 0.0},
                "The frozen base model in 4 bits: about half of LoRA's memory, within 1-2 % of its quality.",
            )
        )
    if config.max_seq_length > 512:
        candidates.append(
            Suggestion(
                f"max sequence length {config.max_seq_length // 2}",
                {"max_seq_length": config.max_seq_length // 2},
                "Activations grow with sequence length; longer conversations are cut.",
                None,
            )
        )
    if usable is None:
        return candidates[:4]
    # One proposal per remedy: the mildest change of each kind that is expected to fit.
    chosen: list[Suggestion] = []
    kinds_done: set[str] = set()
    for candidate in candidates:
        kind = (
            "checkpointing"
            if "gradient_checkpointing" in candidate.changes
            else next(iter(candidate.changes))
        )
        if kind in kinds_done:
            continue
        if candidate.estimated_peak_bytes is None or candidate.estimated_peak_bytes <= usable:
            chosen.append(candidate)
            kinds_done.add(kind)
    return chosen[:4]


def run_preflight_prepared(
    config: TrainConfig,
    plan: DevicePlan,
    model_path: Path,
    tokenizer,
    train: TokenizedSplit,
    total_steps: int | None,
    work_dir: Path,
    verify: bool = False,
) -> PreflightReport:
    report = measure(
        config, plan, model_path, tokenizer, longest_batch_rows(train, config), work_dir
    )
    if report.step_time_s is not None and total_steps:
        report.estimated_run_time_s = report.step_time_s * total_steps
    report.estimate = core_estimate(config, plan, model_path, len(train.examples), train.n_tokens)
    if not report.fits:
        report.suggestions = suggest_fitting_settings(config, report)
        if verify:
            for suggestion in report.suggestions[:3]:
                trial_config = config.replace(**suggestion.changes)
                trial = measure(
                    trial_config,
                    plan,
                    model_path,
                    tokenizer,
                    longest_batch_rows(train, trial_config),
                    work_dir,
                )
                suggestion.estimated_peak_bytes = trial.peak_memory_bytes
                if trial.fits:
                    suggestion.verified = True
                    report.suggestions.remove(suggestion)
                    report.suggestions.insert(0, suggestion)
                    break
    return report


def run_preflight(project, config: TrainConfig, verify: bool = True) -> PreflightReport:
    """Pre-flight for a config on its own (the Train page's "Check it fits" button)."""
    import tempfile

    from core.training.device import cpu_threads, resolve_device
    from core.training.model_loading import load_tokenizer
    from core.training.prepare import read_data, resolve_base_model, tokenize_data
    from core.training.schedule import total_steps

    base = resolve_base_model(project, config)
    data = read_data(project, config)
    plan = resolve_device(config)
    tokenizer = load_tokenizer(base.path)
    tokenize_data(data, tokenizer, config, base.name)
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
        )
