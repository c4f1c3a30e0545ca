"""Our settings mapped onto whatever the installed trl/transformers call them.

trl and transformers rename arguments between releases (warmup_ratio became a float
warmup_steps, max_seq_length became max_length, gradient_checkpointing became
activation_checkpointing, evaluation_strategy became eval_strategy, ...). Rather than
pin versions, each setting lists the names it has had, newest first, and we pass the
first one the installed SFTConfig has, read from its dataclass fields at run time.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from pathlib import Path

from core.recipe.config import TrainConfig
from core.training.device import DevicePlan
from core.training.distributed import cpu_fsdp2_launch
from core.training.held_out import held_out_measure
from core.training.memory_savers import liger_kernel_reason


class UnsupportedLibraryError(RuntimeError):
    """The installed trl/transformers lack an argument we cannot train without."""


@dataclass
class Schedule:
    """When to log, evaluate and checkpoint, resolved for this run."""

    log_every: int
    eval_every: int  # 0: no evaluation
    save_every: int
    keep_checkpoints: int
    load_best_at_end: bool


def sft_config_fields() -> dict[str, dataclasses.Field]:
    # trl is heavy: loaded when training starts
    from trl import SFTConfig

    return {f.name: f for f in dataclasses.fields(SFTConfig)}


def _pick(available: dict, *names: str) -> str | None:
    return next((name for name in names if name in available), None)


def _accepts_float(spec: dataclasses.Field) -> bool:
    return "float" in str(spec.type)


def build_sft_kwargs(
    config: TrainConfig,
    plan: DevicePlan,
    schedule: Schedule,
    output_dir: Path,
    has_eval: bool,
    warmup_steps: int,
    trainer_fields: dict[str, dataclasses.Field] | None = None,
) -> tuple[dict, list[str]]:
    """SFTConfig keyword arguments and notes on how settings were mapped. Another stage's
    config class (DPOConfig, GRPOConfig: TrainingArguments too) passes its own fields;
    the SFT-only settings (packing, which tokens are learned) are then left out."""
    sft = trainer_fields is None
    available = sft_config_fields() if sft else trainer_fields
    kwargs: dict = {}
    notes: list[str] = []

    def put(value, *names: str, required: bool = True) -> None:
        name = _pick(available, *names)
        if name is None:
            if required:
                # trl is heavy: loaded when training starts
                import trl

                raise UnsupportedLibraryError(
                    f"The installed trl {trl.__version__} has none of {', '.join(names)}; "
                    "install a trl release from 0.20 on."
                )
            notes.append(f"{names[0]} is not supported by the installed trl; left at its default")
            return
        kwargs[name] = value

    put(str(output_dir), "output_dir")
    if config.max_steps > 0:
        put(config.max_steps, "max_steps")
    put(config.epochs if config.epochs > 0 else 1.0, "num_train_epochs")
    put(config.micro_batch_size, "per_device_train_batch_size")
    put(config.micro_batch_size, "per_device_eval_batch_size", required=False)
    put(config.gradient_accumulation, "gradient_accumulation_steps")
    put(config.effective_learning_rate, "learning_rate")
    put(config.lr_scheduler, "lr_scheduler_type")
    # A ratio where the library still takes one; otherwise exact steps we computed.
    if "warmup_ratio" in available:
        put(config.warmup_ratio, "warmup_ratio")
    elif "warmup_steps" in available and _accepts_float(available["warmup_steps"]):
        put(config.warmup_ratio, "warmup_steps")
    else:
        put(warmup_steps, "warmup_steps")
    put(config.weight_decay, "weight_decay")
    put(config.max_grad_norm, "max_grad_norm")
    put(plan.optimizer, "optim")
    put(plan.precision == "bf16", "bf16")
    put(plan.precision == "fp16", "fp16")
    put(plan.device == "cpu", "use_cpu", "no_cuda")
    if cpu_fsdp2_launch(plan.device):
        # Keep the process group core.training.distributed set up for FSDP2 on CPUs;
        # rebuilt by TrainingArguments it would train plain DDP.
        put({"use_configured_state": True}, "accelerator_config")
    if sft or _pick(available, "max_length", "max_seq_length"):
        # GRPO has none: its answers are bounded by max_completion_length instead.
        put(config.max_seq_length, "max_length", "max_seq_length")
    if sft:
        put(config.packing, "packing")
    put(config.gradient_checkpointing, "activation_checkpointing", "gradient_checkpointing")
    if config.gradient_checkpointing:
        put(
            {"use_reentrant": False},
            "activation_checkpointing_kwargs",
            "gradient_checkpointing_kwargs",
            required=False,
        )
    if config.liger_kernels:
        reason = liger_kernel_reason(plan.device)
        if reason is None:
            put(True, "use_liger_kernel", required=False)
        else:
            notes.append(f"Liger kernels not used: {reason}")
    put(config.seed, "seed")
    put(config.seed, "data_seed", required=False)
    if sft:  # We tokenize and mask ourselves (chat_tokens), so TRL must not redo it.
        put(False, "assistant_only_loss", required=False)
        put(False, "completion_only_loss", required=False)
    # Logging: every record reaches our callback; nothing goes to external trackers.
    put("steps", "logging_strategy")
    put(schedule.log_every, "logging_steps")
    put(False, "logging_first_step", required=False)
    # NaN must reach the advisor; by default the Trainer hides it behind an average.
    put(False, "logging_nan_inf_filter", required=False)
    put("none", "report_to")
    put(True, "disable_tqdm")
    put("warning", "log_level", required=False)
    # Evaluation and checkpoints.
    put("steps" if has_eval else "no", "eval_strategy", "evaluation_strategy")
    if has_eval:
        put(schedule.eval_every, "eval_steps")
        measure = held_out_measure(config.stage)  # GRPO's best is its held-out reward
        put(measure.trainer_metric, "metric_for_best_model")
        put(measure.higher_is_better, "greater_is_better")
        put(schedule.load_best_at_end, "load_best_model_at_end")
        put(True, "prediction_loss_only", required=False)
    put("steps", "save_strategy")
    put(schedule.save_every, "save_steps")
    put(schedule.keep_checkpoints, "save_total_limit")
    put(False, "save_only_model", required=False)  # resuming needs optimizer, scheduler, RNG
    put(0, "dataloader_num_workers", required=False)
    return kwargs, notes


def build_sft_config(**kwargs):
    # trl is heavy: loaded when training starts
    from trl import SFTConfig

    return SFTConfig(**kwargs)


def trainer_tokenizer_kwarg(tokenizer) -> dict:
    """SFTTrainer took `tokenizer`, now takes `processing_class`."""
    # trl is heavy: loaded when training starts
    from trl import SFTTrainer

    parameters = inspect.signature(SFTTrainer.__init__).parameters
    name = "processing_class" if "processing_class" in parameters else "tokenizer"
    return {name: tokenizer}
