"""The training recipe: one dataclass whose defaults are the guide's starting point.

Every field carries `metadata` with `help` (the GUI's tooltip), `label` and `group`
(where the form shows it), and `choices` where the value is one of a few words. It is
validated in __post_init__ and saved with each run as sorted, version-stamped YAML.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import textwrap
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core import __version__
from core.atomic_file import write_text_atomic
from core.methods import METHOD_NAMES, METHODS
from core.recipe.vocabularies import (
    ALL_LINEAR_TARGETS,
    BITSANDBYTES_OPTIMIZERS,
    DEVICES,
    DPO_LOSS_TYPES,
    FINAL_MODEL,
    LORA_BIASES,
    LOSS_ON,
    MAX_SEQ_LENGTH,
    OPTIMIZERS,
    PRECISIONS,
    QUANT_TYPES,
    SAVER_CHOICES,
    SCHEDULERS,
    STAGES,
    is_all_linear,
)

CONFIG_VERSION = 1
# A config is a page of settings. Bigger ones are mistakes (or attacks) that would be copied
# into project.sqlite and every run list: refused with a line that names the file or field.
MAX_CONFIG_BYTES = 256 * 1024
MAX_TEXT_CHARS = 4096  # a path (PATH_MAX), a model id, a run name


# The largest whole number a setting takes unless its field says otherwise (a form's spin
# box holds it; a bigger step count or interval is a typo).
INT_MAX = 1_000_000_000


class TrainConfigError(ValueError):
    """Settings that cannot be used. `field` and `message` name the first problem, so the
    GUI can point at it; `problems` holds every one found, field by field."""

    def __init__(
        self, field_name: str, message: str, problems: dict[str, str] | None = None
    ) -> None:
        problems = dict(problems or {field_name: message})
        more = len(problems) - 1
        text = f"{field_name}: {message}"
        if more:
            text += (
                f" (and {more} more: {', '.join(name for name in problems if name != field_name)})"
            )
        super().__init__(text)
        self.field = field_name
        self.message = message
        self.problems = problems


def _f(
    default: Any,
    group: str,
    label: str,
    help: str,
    choices: tuple = (),
    low: float | None = None,
    high: float | None = None,
    zero: str = "",
    **kw: Any,
) -> Any:
    """A field with its form metadata: help, label, group, and where they apply the
    choices, the bounds (`low`, `high`; whole numbers default to 0 .. INT_MAX) and what
    0 means (`zero`, e.g. "auto")."""
    meta: dict[str, Any] = {"help": help, "label": label, "group": group}
    if choices:
        meta["choices"] = choices
    if low is not None:
        meta["min"] = low
    if high is not None:
        meta["max"] = high
    if zero:
        meta["zero"] = zero
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta, **kw)
    return field(default=default, metadata=meta, **kw)


@dataclass
class TrainConfig:
    """One training run's settings. Defaults follow the fine-tuning guide."""

    # --- what to train ------------------------------------------------------------
    name: str = _f(
        "",
        "Run",
        "Run name",
        "A name for this run in the Runs list. Empty: method, model and date.",
    )
    base_model: str = _f(
        "SmolLM2-135M-Instruct",
        "Run",
        "Base model",
        "The model to fine-tune: the bundled SmolLM2-135M-Instruct, a model added to the project, "
        "or a Hugging Face model folder.",
    )
    dataset_version: str = _f(
        "",
        "Data",
        "Dataset version",
        "A saved dataset version of this project (for example v3). When set, its train and "
        "validation files are used and the run is linked to it.",
    )
    train_file: str = _f(
        "",
        "Data",
        "Training file",
        "A JSONL file, one conversation per line in the OpenAI messages format "
        '({"messages": [{"role": "user", "content": ...}, ...]}). Ignored when a dataset '
        "version is chosen.",
    )
    validation_file: str = _f(
        "",
        "Data",
        "Validation file",
        "Optional JSONL file of held-out conversations. The validation loss is what shows "
        "overfitting; without it, a fraction of the training file is held out (below).",
    )
    validation_fraction: float = _f(
        0.1,
        "Data",
        "Hold out for validation",
        "When there is no validation file, hold out this fraction of the training examples "
        "(at least 1, only when there are 10 or more). 0 turns it off; the run then cannot "
        "watch for overfitting.",
    )
    loss_on: str = _f(
        "assistant",
        "Data",
        "Loss on",
        "assistant: learn only the assistant's replies (recommended; the prompts are context, "
        "not something to imitate). all: learn every token, system and user turns included.",
        LOSS_ON,
    )
    # --- stage --------------------------------------------------------------------
    stage: str = _f(
        "sft",
        "Stage",
        "Stage",
        "sft: learn from example conversations (the usual first stage). dpo: learn from pairs "
        "of a preferred and a rejected answer to the same prompt (a preference dataset, e.g. "
        "from Evaluate's A/B ratings or Chat corrections). grpo: learn from checkable rewards "
        "of the model's own answers.",
        STAGES,
    )
    start_from: str = _f(
        "",
        "Stage",
        "Start from",
        "Empty: the base model. A finished run's id (for example an SFT run): this stage "
        "continues that run's LoRA adapter on the same base model.",
    )
    dpo_beta: float = _f(
        0.1,
        "Stage",
        "DPO beta",
        "DPO: how far the model may move from the reference (the starting model). Higher "
        "stays closer; 0.1 is the usual start, 0.01-0.5 the useful range.",
    )
    dpo_loss_type: str = _f(
        "sigmoid",
        "Stage",
        "DPO loss",
        "DPO: sigmoid is the paper's loss (recommended). ipo regularizes harder against "
        "overfitting small preference sets; hinge is the SLiC loss; robust tolerates some "
        "wrongly ranked pairs.",
        DPO_LOSS_TYPES,
    )
    # --- GRPO -----------------------------------------------------------------------
    rewards: str = _f(
        "",
        "GRPO",
        "Rewards",
        "GRPO: what a good answer is, as checkable rewards with weights (the Train page's "
        "reward editor writes it). A list in YAML flow form, e.g. "
        "[{kind: valid_json}, {kind: reference_match, field: category, weight: 2}]. Kinds: "
        "valid_json, json_schema, keys, regex, reference_match, length_penalty, python "
        "(your own file, only after you trust it).",
    )
    grpo_num_generations: int = _f(
        4,
        "GRPO",
        "Answers per prompt",
        "GRPO: how many answers the model writes to each prompt; each is scored against the "
        "others of its group. More gives a steadier signal at more time and memory (4-16).",
        low=2,
        high=64,
    )
    grpo_max_completion_length: int = _f(
        128,
        "GRPO",
        "Answer length",
        "GRPO: the most tokens the model writes per answer. Answers cut here score as they "
        "are; set it above your longest good answer.",
        low=1,
        high=32768,
    )
    grpo_temperature: float = _f(
        1.0,
        "GRPO",
        "Temperature",
        "GRPO: sampling temperature of the answers. Lower gives answers too alike to compare "
        "(no signal); 0.7-1.0 is the usual range.",
        low=0.01,
        high=2.0,
    )
    grpo_beta: float = _f(
        0.04,
        "GRPO",
        "KL weight",
        "GRPO: how strongly the model is held near the starting model (KL penalty). 0 turns "
        "the reference off (less memory and time); 0.01-0.1 guards against reward hacking.",
        low=0.0,
        high=10.0,
    )
    # --- method -------------------------------------------------------------------
    method: str = _f(
        "qlora",
        "Method",
        "Method",
        "full: update every weight (most expressive, most memory, risk of forgetting). "
        "lora: small trainable matrices beside frozen weights (60-80 % less memory). "
        "qlora: LoRA on a 4-bit NF4 base model (about half of LoRA's memory, within 1-2 % "
        "of its quality; the recommended start). lora8bit: LoRA on an 8-bit base model.",
        METHOD_NAMES,
    )
    device: str = _f(
        "auto",
        "Method",
        "Device",
        "Where to train: auto picks a CUDA GPU, then Apple MPS, then the CPU.",
        DEVICES,
    )
    precision: str = _f(
        "auto",
        "Method",
        "Precision",
        "auto: bf16 where the hardware supports it (NVIDIA Ampere or newer), fp16 on older "
        "NVIDIA GPUs, fp32 on CPU and Apple MPS.",
        PRECISIONS,
    )
    quant_type: str = _f(
        "nf4",
        "Method",
        "4-bit type",
        "QLoRA's 4-bit data type. NF4 (NormalFloat4) suits normally distributed weights.",
        QUANT_TYPES,
    )
    double_quant: bool = _f(
        True,
        "Method",
        "Double quantization",
        "QLoRA: also quantize the quantization constants (saves about 0.4 bit per weight).",
    )
    cpu_threads: int = _f(
        0,
        "Method",
        "CPU threads",
        "Threads for training on the CPU. 0: automatic, all cores but one on machines with "
        "4 cores or fewer (so the desktop stays responsive and a busy machine does not "
        "thrash), all cores otherwise.",
        high=1024,
        zero="auto",
    )
    # On by default, as in TRL's SFTConfig and the estimator (one default for both): at the
    # guide's start (QLoRA, micro batch 4 x 2048 tokens) a 7B model needs about 14 GiB with
    # checkpointing and over 90 GiB without, so only with it is the guide's 12-24 GB GPU enough.
    gradient_checkpointing: bool = _f(
        True,
        "Method",
        "Gradient checkpointing",
        "Recompute activations in the backward pass instead of keeping them: much less "
        "memory for about 20-30 % more time. Turn off for speed when a run fits without it.",
    )
    # --- memory savers: "auto" turns one on only when the estimate says the run needs it on
    # its GPU, cheapest first (core.estimate.savers); on the CPU "auto" means off.
    frozen_16bit: str = _f(
        "auto",
        "Memory",
        "16-bit frozen parts",
        "QLoRA and 8-bit LoRA: keep the frozen embeddings, LM head and norms in 16 bit "
        "instead of PEFT's fp32 copy. Saves their fp32 weights and halves the checkpointed "
        "activations (the fp32 copy makes every layer's hidden states fp32); no slowdown, "
        "norms computed from 16-bit weights (loss within about 1 % of fp32). auto: on when "
        "the run needs the memory.",
        SAVER_CHOICES,
    )
    offload_activations: str = _f(
        "auto",
        "Memory",
        "Offload activations",
        "Keep each checkpointed layer's input in CPU RAM (pinned) instead of on the GPU and "
        "copy it back for the backward pass. Saves layers x tokens x hidden x 2 bytes of GPU "
        "memory (about 16 GiB at 64k tokens on a 7B model) for the same amount of CPU RAM and "
        "about 5 % more time (PCIe copies). auto: on when the run needs the memory.",
        SAVER_CHOICES,
    )
    tiled_mlp: str = _f(
        "auto",
        "Memory",
        "Tiled MLP",
        "Compute each MLP over 4,096 tokens at a time, each tile recomputed on its own in the "
        "backward pass: the MLP's large intermediates exist one tile at a time (the biggest "
        "saving past 16k tokens). Costs one more MLP forward pass, about 10-15 % more time; "
        "no effect on sequences of 4,096 tokens or fewer or on a mixture of experts. auto: "
        "on when the run needs the memory.",
        SAVER_CHOICES,
    )
    liger_kernels: bool = _f(
        False,
        "Memory",
        "Liger kernels",
        "CUDA GPUs with the liger-kernel extra installed: fused Triton kernels for RMSNorm, "
        "RoPE and SwiGLU (less memory, often faster). Ignored on the CPU.",
    )
    # --- training -----------------------------------------------------------------
    epochs: float = _f(
        3.0,
        "Training",
        "Epochs",
        "Passes over the training set. 2-3 is a safe start; more risks overfitting, "
        "especially under 1,000 examples.",
    )
    max_steps: int = _f(
        0,
        "Training",
        "Step limit",
        "Stop after this many optimizer steps (0: no limit, train for the epochs above).",
        zero="no limit",
    )
    micro_batch_size: int = _f(
        4,
        "Training",
        "Micro batch",
        "Examples per forward pass (per device). Lower it when memory runs out and raise "
        "gradient accumulation to keep the effective batch.",
        low=1,
        high=4096,
    )
    gradient_accumulation: int = _f(
        4,
        "Training",
        "Gradient accumulation",
        "Micro batches per optimizer step. Effective batch = micro batch x accumulation "
        "(4 x 4 = 16). Larger effective batches (16-64) train more stably.",
        low=1,
        high=65536,
    )
    learning_rate: float = _f(
        0.0,
        "Training",
        "Learning rate",
        "0: automatic, 2e-4 for LoRA and QLoRA (1e-4 to 3e-4 work well), 2e-5 for full "
        "fine-tuning (1e-5 to 5e-5, to avoid catastrophic forgetting). If the training loss "
        "plummets in the first steps, it is probably too high.",
        zero="auto",
    )
    lr_scheduler: str = _f(
        "cosine", "Training", "Schedule", "How the learning rate decays after warmup.", SCHEDULERS
    )
    warmup_ratio: float = _f(
        0.03,
        "Training",
        "Warmup",
        "Fraction of the steps over which the learning rate rises from 0 (3 %).",
    )
    weight_decay: float = _f(0.01, "Training", "Weight decay", "Light regularization (0.01).")
    max_grad_norm: float = _f(
        1.0,
        "Training",
        "Gradient clipping",
        "Clip the gradient norm to this value (1.0); 0 turns clipping off.",
    )
    optimizer: str = _f(
        "auto",
        "Training",
        "Optimizer",
        "auto: paged 8-bit AdamW for QLoRA on a GPU (memory-efficient), AdamW otherwise.",
        OPTIMIZERS,
    )
    max_seq_length: int = _f(
        2048,
        "Training",
        "Max sequence length",
        "Tokens per training sequence; longer conversations are truncated. Adjust to your "
        "data: memory grows with it.",
        low=16,
        high=MAX_SEQ_LENGTH,
    )
    packing: bool = _f(
        True,
        "Training",
        "Packing",
        "Pack several short conversations into each sequence (without attending across "
        "them), so no compute is spent on padding.",
    )
    seed: int = _f(
        42,
        "Training",
        "Seed",
        "Random seed for weights, data order and dropout (reproducible).",
        high=2**31 - 1,
    )
    # --- LoRA ---------------------------------------------------------------------
    lora_r: int = _f(
        16,
        "LoRA",
        "Rank (r)",
        "The most important LoRA setting: 4-8 for format or tone, 16 to start, 32-128 for "
        "new domain-specific reasoning. Higher is more expressive and uses more memory.",
        low=1,
        high=4096,
    )
    lora_alpha: int = _f(
        32, "LoRA", "Alpha", "Scaling factor of the LoRA update; typically 2 x rank."
    )
    lora_dropout: float = _f(
        0.05,
        "LoRA",
        "Dropout",
        "Dropout on the LoRA path (regularization). 0 is also a memory saver: each adapted "
        "layer then shares its input instead of keeping a dropped-out copy and a mask (about "
        "10 % of the activations), at the cost of that regularization; the memory pick sets "
        "it to 0 when a run needs the room.",
    )
    lora_target_modules: list = field(
        default_factory=lambda: list(ALL_LINEAR_TARGETS),
        metadata={
            "help": "Layers that get LoRA matrices. all-linear (recommended): every linear "
            "layer but the output head, whatever the model calls them, and on a mixture of "
            "experts the experts too (then without LoRA dropout, which PEFT cannot apply to "
            "them). Or name layers, e.g. q_proj, v_proj (Llama), q_proj, dense, fc1 (Phi-2), "
            "c_attn, c_fc (StarCoder); a name the model lacks stops the run before training.",
            "label": "Target modules",
            "group": "LoRA",
        },
    )
    lora_bias: str = _f("none", "LoRA", "Bias", "Whether to train bias terms.", LORA_BIASES)
    # --- monitoring and control ---------------------------------------------------
    log_every_steps: int = _f(
        1,
        "Monitoring",
        "Log every",
        "Record training loss, learning rate and speed every N steps.",
        low=1,
    )
    eval_every_steps: int = _f(
        0,
        "Monitoring",
        "Evaluate every",
        "Compute the validation loss every N steps. 0: automatic, about 20 times per run "
        "(under 1,000 examples overfitting can start within the first epoch, so watch often).",
        zero="auto",
    )
    checkpoint_every_steps: int = _f(
        0,
        "Monitoring",
        "Checkpoint every",
        "Save a resumable checkpoint every N steps. 0: at every evaluation (so the best "
        "one by validation loss is always on disk), or 10 times per run without validation.",
        zero="auto",
    )
    keep_checkpoints: int = _f(
        2,
        "Monitoring",
        "Checkpoints kept",
        "How many recent checkpoints to keep on disk; the best one by validation loss is "
        "always kept as well.",
        low=1,
        high=1000,
    )
    final_model: str = _f(
        "best",
        "Monitoring",
        "Final model",
        "best: the checkpoint with the lowest validation loss becomes the final model (the "
        "guard against overfitting; GRPO: the highest held-out reward). last: the weights at "
        "the last step.",
        FINAL_MODEL,
    )
    early_stopping_patience: int = _f(
        0,
        "Monitoring",
        "Early stopping",
        "Stop when the validation loss has not improved for this many evaluations "
        "(GRPO: the held-out reward, as its loss is no measure of the answers; "
        "0: off; the advisor still warns).",
        zero="off",
    )
    preflight: bool = _f(
        True,
        "Monitoring",
        "Pre-flight check",
        "Before training, run 3 real steps on the longest batch to measure memory and step "
        "time, and propose settings that fit if it would run out of memory.",
    )
    stop_on_divergence: bool = _f(
        True,
        "Monitoring",
        "Stop on divergence",
        "Stop the run when the loss or gradient norm becomes NaN or infinite, or the "
        "gradient norm explodes: the weights are no longer usable.",
    )
    memory_stop_available_percent: int = _f(
        10,
        "Monitoring",
        "Stop when free RAM under",
        "Percent of the machine's RAM. The memory guard stops the run (saving a checkpoint) "
        "when less RAM than this is available, before the system's out-of-memory killer "
        "closes the app. 0: off.",
        high=100,
        zero="off",
    )
    memory_stop_rss_percent: int = _f(
        85,
        "Monitoring",
        "Stop when app uses over",
        "Percent of the machine's RAM. The memory guard stops the run (saving a checkpoint) "
        "when this app holds more than this. 0: off.",
        high=100,
        zero="off",
    )

    def __post_init__(self) -> None:
        # Every problem at once (a form marks each wrong field; a file names them all).
        problems: dict[str, str] = {}
        self._coerce_types(problems)
        self._validate(problems)
        if problems:
            name, message = next(iter(problems.items()))
            raise TrainConfigError(name, message, problems)

    # --- derived values -----------------------------------------------------------
    @property
    def is_adapter_method(self) -> bool:
        return METHODS[self.method].trains_adapters

    @property
    def effective_learning_rate(self) -> float:
        if self.learning_rate > 0:
            return self.learning_rate
        return METHODS[self.method].default_learning_rate

    @property
    def effective_batch_size(self) -> int:
        return self.micro_batch_size * self.gradient_accumulation

    def effective_optimizer(self, device: str) -> str:
        if self.optimizer != "auto":
            return self.optimizer
        # Paging only exists on CUDA (bitsandbytes falls back to plain AdamW elsewhere).
        return "paged_adamw_8bit" if self.method == "qlora" and device == "cuda" else "adamw_torch"

    def display_name(self) -> str:
        if self.name.strip():
            return self.name.strip()
        model = Path(self.base_model).name or self.base_model
        stage = "" if self.stage == "sft" else f"{self.stage} "  # SFT is the usual run
        return f"{stage}{self.method} {model}"

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with `changes`, validated as a new config is. (dataclasses.replace
        builds all fifty fields again; the estimator replaces a few hundred times per
        Estimate page update, so the copy starts from this one's values.)"""
        unknown = set(changes) - _field_names()
        if unknown:
            raise TypeError(f"TrainConfig has no setting {', '.join(sorted(unknown))}")
        copy = object.__new__(TrainConfig)
        copy.__dict__.update(self.__dict__)
        copy.__dict__.update(changes)
        copy.__post_init__()
        return copy

    def as_dict(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    # --- validation ---------------------------------------------------------------
    def _coerce_types(self, problems: dict[str, str]) -> None:
        """YAML and GUI forms hand us ints for floats and strings for numbers ('2e-4').
        A value that cannot be read is a problem, and its default stands in for it while
        the other settings are checked."""
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            kind = _field_kind(spec)
            if type(value) is kind and kind is not list:
                continue  # already what it must be (the estimator replaces fields often)
            try:
                if kind is bool:
                    if isinstance(value, str):
                        lowered = value.strip().lower()
                        if lowered not in ("true", "false", "yes", "no", "1", "0", "on", "off"):
                            raise ValueError
                        value = lowered in ("true", "yes", "1", "on")
                    elif isinstance(value, int):
                        value = bool(value)
                    if not isinstance(value, bool):
                        raise ValueError
                elif kind is int:
                    if isinstance(value, bool):
                        raise ValueError
                    if isinstance(value, str):
                        value = value.strip().replace("_", "")
                    as_float = float(value)
                    if not as_float.is_integer():
                        raise ValueError
                    value = int(as_float)
                elif kind is float:
                    if isinstance(value, bool):
                        raise ValueError
                    value = float(value)
                elif kind is str:
                    if value is None:
                        value = ""
                    if not isinstance(value, str):
                        raise ValueError
                elif kind is list:
                    if isinstance(value, str):
                        value = [part.strip() for part in value.split(",") if part.strip()]
                    if not isinstance(value, (list, tuple)) or not all(
                        isinstance(item, str) for item in value
                    ):
                        raise ValueError
                    value = list(value)
                    if is_all_linear(value):  # one spelling of PEFT's all-linear
                        value = list(ALL_LINEAR_TARGETS)
            except (TypeError, ValueError):
                problems.setdefault(
                    spec.name,
                    f"expected {_kind_words(kind)}, got {value!r}. {spec.metadata['help']}",
                )
                value = _default(spec)
            object.__setattr__(self, spec.name, value)

    def _validate(self, problems: dict[str, str]) -> None:
        def problem(name: str, message: str) -> None:
            problems.setdefault(name, message)  # the first problem of a field says most

        for spec, choices in _checked_fields():
            value = getattr(self, spec.name)
            if choices and value not in choices:
                problem(spec.name, f"{value!r} is not one of: {', '.join(choices)}.")
                object.__setattr__(self, spec.name, _default(spec))
            if isinstance(value, float) and not math.isfinite(value):
                problem(spec.name, f"must be a finite number, got {value}.")
                object.__setattr__(self, spec.name, _default(spec))
            if isinstance(value, str):
                longest = len(value)
            elif isinstance(value, list):
                longest = max((len(t) for t in value if isinstance(t, str)), default=0)
            else:
                continue
            if longest > MAX_TEXT_CHARS:
                problem(
                    spec.name,
                    f"is {longest:,} characters long; at most {MAX_TEXT_CHARS:,} are allowed.",
                )
            if isinstance(value, list) and len(value) > MAX_TEXT_CHARS:
                problem(spec.name, f"has {len(value):,} entries; too many.")

        def positive(name: str, allow_zero: bool = False) -> None:
            value = getattr(self, name)
            if value < 0 or (value == 0 and not allow_zero):
                needed = "0 or more" if allow_zero else "more than 0"
                problem(name, f"must be {needed}, got {value}.")

        for name in ("micro_batch_size", "gradient_accumulation", "log_every_steps", "lora_r"):
            positive(name)
        for name in (
            "max_steps",
            "cpu_threads",
            "eval_every_steps",
            "checkpoint_every_steps",
            "early_stopping_patience",
            "learning_rate",
            "weight_decay",
            "max_grad_norm",
            "lora_alpha",
        ):
            positive(name, allow_zero=True)
        for name in ("memory_stop_available_percent", "memory_stop_rss_percent"):
            if not 0 <= getattr(self, name) <= 100:
                problem(
                    name, f"must be a percentage from 0 (off) to 100, got {getattr(self, name)}."
                )
        if self.keep_checkpoints < 1:
            problem("keep_checkpoints", "keep at least 1 checkpoint, or a crash cannot be resumed.")
        if self.epochs < 0:
            problem("epochs", f"must be 0 or more (0 with a step limit), got {self.epochs}.")
        if self.epochs <= 0 and self.max_steps == 0:
            problem("epochs", f"must be more than 0 (or set a step limit), got {self.epochs}.")
        if self.epochs > 1000:
            problem("epochs", f"{self.epochs} epochs is surely a typo (max 1000).")
        if self.learning_rate > 1:
            problem(
                "learning_rate",
                f"{self.learning_rate} is far too high; LoRA uses about 2e-4, full fine-tuning 2e-5.",
            )
        if not 0 <= self.warmup_ratio < 1:
            problem("warmup_ratio", f"must be a fraction in [0, 1), got {self.warmup_ratio}.")
        if not 0 <= self.validation_fraction < 0.5:
            problem(
                "validation_fraction",
                f"must be in [0, 0.5), got {self.validation_fraction}; 0.1 is typical.",
            )
        if not 0 < self.dpo_beta <= 10:
            problem("dpo_beta", f"must be more than 0 and at most 10, got {self.dpo_beta}.")
        if not 0 <= self.lora_dropout < 1:
            problem("lora_dropout", f"must be in [0, 1), got {self.lora_dropout}.")
        if self.max_seq_length < 16:
            problem("max_seq_length", f"must be at least 16 tokens, got {self.max_seq_length}.")
        if self.max_seq_length > MAX_SEQ_LENGTH:
            problem(
                "max_seq_length",
                f"{self.max_seq_length:g} tokens is surely a typo (at most {MAX_SEQ_LENGTH:,}; "
                "2048 suits most chat data).",
            )
        if self.is_adapter_method and not self.lora_target_modules:
            problem(
                "lora_target_modules",
                "use all-linear, or name at least one layer for LoRA, e.g. q_proj, v_proj.",
            )
        if len(self.lora_target_modules) > 1 and any(
            is_all_linear([name]) for name in self.lora_target_modules
        ):
            problem(
                "lora_target_modules",
                "all-linear already means every linear layer; use it alone or list names.",
            )
        if not self.base_model.strip():
            problem("base_model", "choose a base model.")
        if METHODS[self.method].quantized_bits and self.device == "mps":
            problem(
                "method",
                f"{self.method} needs bitsandbytes, which does not run on Apple MPS; use lora "
                "on MPS, or train on the CPU.",
            )
        if self.optimizer in BITSANDBYTES_OPTIMIZERS and self.device == "mps":
            problem(
                "optimizer",
                f"{self.optimizer} needs bitsandbytes, which does not run on Apple MPS.",
            )
        if self.precision == "fp16" and self.device == "cpu":
            problem("precision", "fp16 mixed precision needs a GPU; use fp32 or bf16 on the CPU.")
        # The bounds of each whole number (metadata min and max; 0 .. INT_MAX otherwise).
        for name, low, high, zero in _int_bounds():
            value = getattr(self, name)
            if not low <= value <= high:
                meaning = f" (0: {zero})" if zero else ""
                problem(name, f"must be from {low:,}{meaning} to {high:,}, got {value:,}.")

    def require_data(self) -> None:
        """Raise unless the run has training data (checked at start, not while editing)."""
        if not self.dataset_version.strip() and not self.train_file.strip():
            raise TrainConfigError(
                "train_file", "choose a dataset version or a training JSONL file."
            )


def _default(spec: dataclasses.Field) -> Any:
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return spec.default


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _field_kind(spec: dataclasses.Field) -> type:
    kind = _FIELD_KINDS.get(spec.name)
    if kind is None:
        kind = _FIELD_KINDS[spec.name] = _read_field_kind(spec)
    return kind


_FIELD_KINDS: dict[str, type] = {}
# Read once from the fields' metadata: validation runs on every replace, and the
# estimator replaces settings hundreds of times while the Estimate page recomputes.
_CHECKED: list = []
_INT_BOUNDS: list = []


def _field_names() -> set[str]:
    if not _NAMES:
        _NAMES.update(spec.name for spec, _choices in _checked_fields())
    return _NAMES


_NAMES: set[str] = set()


def _checked_fields() -> list:
    """(field, its choices) for every field: what the generic checks walk."""
    if not _CHECKED:
        _CHECKED.extend(
            (spec, spec.metadata.get("choices")) for spec in dataclasses.fields(TrainConfig)
        )
    return _CHECKED


def _int_bounds() -> list:
    """(name, low, high, what 0 means) of every whole-number field."""
    if not _INT_BOUNDS:
        _INT_BOUNDS.extend(
            (
                spec.name,
                spec.metadata.get("min", 0),
                spec.metadata.get("max", INT_MAX),
                spec.metadata.get("zero", ""),
            )
            for spec in dataclasses.fields(TrainConfig)
            if _field_kind(spec) is int
        )
    return _INT_BOUNDS


def _read_field_kind(spec: dataclasses.Field) -> type:
    hint = spec.type
    if isinstance(hint, str):
        hint = {"str": str, "int": int, "float": float, "bool": bool, "list": list}.get(hint, str)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def _kind_words(kind: type) -> str:
    return {
        bool: "true or false",
        int: "a whole number",
        float: "a number",
        str: "text",
        list: "a list of names",
    }.get(kind, "a value")


def field_help(name: str) -> str:
    """The tooltip text of one field (raises KeyError for an unknown field)."""
    for spec in dataclasses.fields(TrainConfig):
        if spec.name == name:
            return spec.metadata["help"]
    raise KeyError(name)


def field_label(name: str) -> str:
    """The label the forms show for one field (raises KeyError for an unknown field)."""
    for spec in dataclasses.fields(TrainConfig):
        if spec.name == name:
            return spec.metadata["label"]
    raise KeyError(name)


def config_fields() -> list[dataclasses.Field]:
    """The fields in form order, each with metadata help, label, group and maybe choices."""
    return list(dataclasses.fields(TrainConfig))


# --- presets from the guide ---------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    description: str
    changes: dict

    @property
    def status_text(self) -> str:
        """What the Train page's status bar says once the preset is applied."""
        return f"Preset: {self.label}. {self.description}"


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "format_or_tone",
            "Format or tone",
            "Simple behavioural change such as output format or tone: rank 8 is enough; "
            "50-200 high-quality examples can already show results.",
            {"lora_r": 8, "lora_alpha": 16},
        ),
        Preset(
            "domain_adaptation",
            "Domain adaptation",
            "Learning a domain's terminology and conventions: the standard rank 16; "
            "500-2,000 examples typically suffice.",
            {"lora_r": 16, "lora_alpha": 32},
        ),
        Preset(
            "new_reasoning",
            "New reasoning patterns",
            "Complex behavioural change that needs new domain-specific reasoning: rank 64; "
            "expect to need 2,000-10,000 examples.",
            {"lora_r": 64, "lora_alpha": 128},
        ),
    )
}


# The start on a machine without a CUDA GPU: the GPU defaults (QLoRA, 2048 tokens, micro
# batch 4) grow a CPU process past 20 GB on a 135M model. LoRA on the fp32 base (bitsandbytes'
# 4-bit kernels are slow on the CPU and save little on small models), short sequences,
# one or two examples at a time and the effective batch kept by accumulation.
CPU_PRESET = Preset(
    "cpu",
    "CPU",
    "For a machine without a CUDA GPU: LoRA, 512-token sequences, micro batch 2 x "
    "accumulation 8 (effective batch 16), gradient checkpointing on (less RAM for some "
    "extra time).",
    {
        "method": "lora",
        "device": "cpu",
        "precision": "auto",
        "optimizer": "auto",
        "max_seq_length": 512,
        "micro_batch_size": 2,
        "gradient_accumulation": 8,
        "gradient_checkpointing": True,
    },
)


def default_config(has_cuda: bool) -> TrainConfig:
    """The settings a new project's Train page starts from on this machine."""
    config = TrainConfig()
    return config if has_cuda else config.replace(**CPU_PRESET.changes)


def find_preset(name: str) -> Preset:
    """The guide's preset or the CPU one called `name`."""
    if name == CPU_PRESET.name:
        return CPU_PRESET
    try:
        return PRESETS[name]
    except KeyError:
        raise TrainConfigError(
            "preset", f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}."
        ) from None


def apply_preset(config: TrainConfig, name: str) -> TrainConfig:
    return config.replace(**find_preset(name).changes)


# --- YAML ---------------------------------------------------------------------------

_HEADER_KEYS = ("config_version", "studio_version")


def config_to_yaml(config: TrainConfig, with_help: bool = False) -> str:
    """Sorted, version-stamped YAML; with_help adds each field's help as a comment."""
    lines = [
        "# FineTune Studio training configuration",
        f"config_version: {CONFIG_VERSION}",
        f"studio_version: {__version__}",
    ]
    values = config.as_dict()
    help_by_name = {f.name: f.metadata["help"] for f in dataclasses.fields(config)}
    for name in sorted(values):
        if with_help:
            lines.append("")
            lines += [f"# {part}" for part in _wrap(help_by_name[name])]
        lines.append(f"{name}: {_yaml_scalar(yaml, values[name])}")
    return "\n".join(lines) + "\n"


def _yaml_scalar(yaml, value: Any) -> str:
    """One value in YAML flow style, on one line (lists as [a, b])."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    elif text.endswith("..."):
        text = text[:-3].strip()
    return text


def _wrap(text: str, width: int = 88) -> list[str]:
    return textwrap.wrap(text, width=width) or [""]


def save_config(config: TrainConfig, path: str | Path, with_help: bool = False) -> None:
    write_text_atomic(path, config_to_yaml(config, with_help=with_help))


def config_from_dict(data: dict, source: str = "config") -> TrainConfig:
    """Build a config from a mapping; unknown keys and bad values name themselves."""
    if not isinstance(data, dict):
        raise TrainConfigError("config", f"{source} must be a mapping of settings.")
    data = dict(data)
    version = data.pop("config_version", CONFIG_VERSION)
    data.pop("studio_version", None)
    if isinstance(version, int) and version > CONFIG_VERSION:
        raise TrainConfigError(
            "config_version",
            f"{source} was written by a newer FineTune Studio (config v{version}); update to use it.",
        )
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        close = {name: _closest(name, known) for name in unknown}
        hints = "; ".join(
            f"{name!r}" + (f" (did you mean {close[name]!r}?)" if close[name] else "")
            for name in unknown
        )
        raise TrainConfigError(unknown[0], f"{source}: unknown setting {hints}.")
    try:
        return TrainConfig(**data)
    except TrainConfigError as error:
        problems = {name: f"{source}: {message}" for name, message in error.problems.items()}
        raise TrainConfigError(error.field, problems[error.field], problems) from None


def _closest(name: str, known: set[str]) -> str | None:
    matches = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _yaml_problem(path: Path, error) -> str:
    """One line for a YAML syntax error: the file, line and column, and what is wrong."""
    mark = getattr(error, "problem_mark", None)
    where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    context = getattr(error, "context", None)
    detail = f"{context}: {problem}" if context else problem
    return f"{path}{where} is not valid YAML ({' '.join(str(detail).split())})."


def load_config(path: str | Path) -> TrainConfig:
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise TrainConfigError("config", f"{path} does not exist.") from None
    if not path.is_file():
        raise TrainConfigError("config", f"{path} is not a file; give a YAML config file.")
    if size > MAX_CONFIG_BYTES:
        raise TrainConfigError(
            "config",
            f"{path} is {size:,} bytes; a config is at most {MAX_CONFIG_BYTES:,} bytes "
            "(settings, not data: point train_file at the data).",
        )
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise TrainConfigError("config", _yaml_problem(path, error)) from None
    config = config_from_dict(data or {}, source=str(path))
    # Relative data paths in a config file are relative to the file, not to the shell.
    changes = {}
    for name in ("train_file", "validation_file"):
        value = getattr(config, name)
        if value and not Path(value).expanduser().is_absolute():
            changes[name] = str((path.parent / value).resolve())
    return config.replace(**changes) if changes else config
