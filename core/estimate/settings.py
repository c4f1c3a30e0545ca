"""The run settings the estimator takes, and the facts about the training stack it assumes.

RunSettings carries the seed guide's defaults (QLoRA, r 16 on all linear layers, micro
batch 4 x accumulation 4, 2048 tokens packed, paged 8-bit AdamW, 3 epochs) and a help
text per field that the Estimate page shows as tooltips. StackAssumptions says how the
software that trains behaves (this project's by default), so that published measurements
made with other stacks can be reproduced by changing only those facts.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from core.methods import METHOD_NAMES, METHODS

ALL_LINEAR = ("all-linear",)

PRECISIONS = ("bf16", "fp16", "bf16-mixed", "fp32")
SHARDINGS = ("none", "zero2", "fsdp")
SHARDING_TITLES = {
    "none": "none (DDP: each GPU holds all)",
    "zero2": "ZeRO-2 (gradients, optimizer)",
    "fsdp": "FSDP / ZeRO-3 (everything)",
}


@dataclass(frozen=True)
class OptimizerSpec:
    """What an optimizer keeps per trainable parameter.

    moment_bytes None means each moment is stored in the parameter's own dtype (torch
    optimizers); bitsandbytes optimizers store 1-byte (8-bit) or 4-byte moments whatever
    the parameter dtype. Paged states live in unified memory that can spill to host RAM.
    """

    name: str
    moments: int
    moment_bytes: int | None = None
    paged: bool = False
    foreach_temporaries: bool = False
    factored: bool = False
    help: str = ""


OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec
    for spec in (
        OptimizerSpec(
            "adamw_torch", 2, foreach_temporaries=True, help="PyTorch AdamW: two moments"
        ),
        OptimizerSpec(
            "adamw_torch_fused", 2, help="PyTorch fused AdamW: two moments, no temporaries"
        ),
        OptimizerSpec("adamw_8bit", 2, 1, help="bitsandbytes 8-bit AdamW: 2 bytes per parameter"),
        OptimizerSpec(
            "paged_adamw_8bit",
            2,
            1,
            paged=True,
            help="bitsandbytes paged 8-bit AdamW (the seed's default): 2 bytes per parameter, "
            "spills to CPU RAM instead of running out of memory",
        ),
        OptimizerSpec(
            "paged_adamw_32bit", 2, 4, paged=True, help="paged 32-bit AdamW: 8 bytes per parameter"
        ),
        OptimizerSpec("lion_8bit", 1, 1, help="bitsandbytes 8-bit Lion: 1 byte per parameter"),
        OptimizerSpec("lion_32bit", 1, 4, help="32-bit Lion: 4 bytes per parameter"),
        OptimizerSpec("adafactor", 0, factored=True, help="Adafactor: factored second moment only"),
        OptimizerSpec("sgd", 0, help="SGD without momentum (the Trainer's default): no state"),
    )
}


def _help(text: str, **extra) -> dict:
    return {"help": text, **extra}


@dataclass(frozen=True)
class RunSettings:
    """Everything about a training run that decides its memory, time and cost."""

    method: str = field(
        default="qlora",
        metadata=_help(
            "full: train every weight. lora: freeze the 16-bit model and train small adapters. "
            "qlora: the same on a 4-bit (NF4) model, the usual starting point. "
            "lora8bit: LoRA on an 8-bit model.",
            choices=METHOD_NAMES,
        ),
    )
    precision: str = field(
        default="bf16",
        metadata=_help(
            "bf16: weights and compute in bfloat16 (needs an Ampere or newer GPU). fp16: "
            "16-bit weights, fp32 trainable copies. bf16-mixed: fp32 weights with bf16 compute "
            "(18 bytes per trained parameter). fp32: everything in 32-bit.",
            choices=PRECISIONS,
        ),
    )
    optimizer: str = field(
        default="paged_adamw_8bit",
        metadata=_help(
            "The optimizer and so the bytes of state kept per trainable parameter; the seed "
            "recommends paged_adamw_8bit.",
            choices=tuple(OPTIMIZERS),
        ),
    )
    micro_batch_size: int = field(
        default=4,
        metadata=_help(
            "Sequences per GPU per forward pass (per_device_train_batch_size). Activation "
            "memory grows with it; lower it first when memory is short."
        ),
    )
    gradient_accumulation: int = field(
        default=4,
        metadata=_help(
            "Gradient accumulation steps: effective batch = micro batch x accumulation x GPUs. "
            "Costs no memory, so raise it when you lower the micro batch."
        ),
    )
    max_seq_length: int = field(
        default=2048,
        metadata=_help(
            "Maximum tokens per sequence (max_length); longer examples are truncated. Memory "
            "is estimated for a micro batch of full-length sequences."
        ),
    )
    packing: bool = field(
        default=True,
        metadata=_help(
            "Pack short examples into full-length sequences, so no compute is spent on padding."
        ),
    )
    gradient_checkpointing: bool = field(
        default=True,
        metadata=_help(
            "Keep only each layer's input and recompute the rest in the backward pass: far "
            "less activation memory for about a third more compute."
        ),
    )
    lora_r: int = field(
        default=16,
        metadata=_help(
            "LoRA rank: 4-8 for format or tone, 32-128 for new reasoning patterns; start at 16."
        ),
    )
    # A tuple of names as TrainConfig.lora_target_modules (a list there; frozen here).
    lora_target_modules: tuple[str, ...] = field(
        default=ALL_LINEAR,
        metadata=_help(
            "Layers that get adapters: all-linear (PEFT's name for every linear layer but the "
            "output head), or module names such as q_proj, v_proj."
        ),
    )
    lora_dropout: float = field(
        default=0.05,
        metadata=_help(
            "Dropout on the adapters' input. Above 0 each adapted layer keeps its own copy of "
            "its input for the backward pass, which costs activation memory."
        ),
    )
    double_quant: bool = field(
        default=True,
        metadata=_help("QLoRA double quantization: about 4.13 instead of 4.5 bits per weight."),
    )
    num_gpus: int = field(
        default=1,
        metadata=_help("GPUs training together (data parallel, each with its own micro batch)."),
    )
    sharding: str = field(
        default="none",
        metadata=_help(
            "How several GPUs split the model: none (DDP), zero2 (gradients and optimizer "
            "states), fsdp (everything, as FSDP full shard or ZeRO-3).",
            choices=SHARDINGS,
        ),
    )
    examples: int = field(
        default=1000,
        metadata=_help("Training examples in the dataset."),
    )
    avg_tokens: int = field(
        default=512,
        metadata=_help("Average tokens per example (prompt and answer together)."),
    )
    epochs: float = field(
        default=3.0,
        metadata=_help("Passes over the dataset; the seed advises 2-3 (more risks overfitting)."),
    )
    dataset_tokens: int | None = field(
        default=None,
        metadata=_help(
            "Total tokens of the dataset when known (counted from the project's dataset); "
            "replaces examples x average tokens."
        ),
    )
    decoder_seq_len: int | None = field(
        default=None,
        metadata=_help(
            "Encoder-decoder models only: target length in tokens (default: a quarter of the "
            "sequence length)."
        ),
    )

    def __post_init__(self) -> None:
        problems = []
        if self.method not in METHODS:
            problems.append(f"method must be one of {', '.join(METHOD_NAMES)}, not {self.method!r}")
        if self.precision not in PRECISIONS:
            problems.append(
                f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}"
            )
        if self.optimizer not in OPTIMIZERS:
            problems.append(
                f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}"
            )
        if self.sharding not in SHARDINGS:
            problems.append(
                f"sharding must be one of {', '.join(SHARDINGS)}, not {self.sharding!r}"
            )
        limits = {
            "micro_batch_size": (1, 4096),
            "gradient_accumulation": (1, 65536),
            "max_seq_length": (8, 2_097_152),
            "lora_r": (1, 4096),
            "num_gpus": (1, 1024),
            "examples": (1, 10**10),
            "avg_tokens": (1, 2_097_152),
        }
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                problems.append(
                    f"{name} must be a whole number from {low} to {high}, not {value!r}"
                )
        if not 0 < self.epochs <= 1000:
            problems.append(f"epochs must be above 0 and at most 1000, not {self.epochs!r}")
        if not 0 <= self.lora_dropout < 1:
            problems.append(f"lora_dropout must be from 0 to below 1, not {self.lora_dropout!r}")
        if self.dataset_tokens is not None and self.dataset_tokens < 1:
            problems.append("dataset_tokens must be positive when given")
        if self.decoder_seq_len is not None and self.decoder_seq_len < 1:
            problems.append("decoder_seq_len must be positive when given")
        try:
            self.target_names()
        except ValueError as error:
            problems.append(str(error))
        if problems:
            raise ValueError("; ".join(problems))

    # Derived facts ---------------------------------------------------------
    @property
    def trains_adapters(self) -> bool:
        return METHODS[self.method].trains_adapters

    @property
    def quantized_bits(self) -> int | None:
        return METHODS[self.method].quantized_bits

    @property
    def effective_batch(self) -> int:
        return self.micro_batch_size * self.gradient_accumulation * self.num_gpus

    @property
    def effective_sharding(self) -> str:
        return self.sharding if self.num_gpus > 1 else "none"

    def target_names(self) -> tuple[str, ...] | None:
        """None for all-linear, else the module names (validated as identifiers)."""
        names = tuple(name.strip() for name in self.lora_target_modules if name.strip())
        if len(names) == 1 and names[0].lower() in ("all-linear", "all_linear", "all"):
            return None
        if not names:
            raise ValueError(
                "lora_target_modules is empty: use all-linear or names like q_proj, v_proj"
            )
        for name in names:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name):
                raise ValueError(f"lora_target_modules: {name!r} is not a module name")
        return names

    def replace(self, **changes) -> RunSettings:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def targets_from_text(text: str) -> tuple[str, ...]:
    """Target modules typed as text ("all-linear", "q_proj,v_proj" or "q_proj v_proj")."""
    return tuple(part for part in re.split(r"[,\s]+", text.strip()) if part) or ALL_LINEAR


def field_help(name: str) -> str:
    """The help text of one RunSettings field (the GUI's tooltip)."""
    for item in dataclasses.fields(RunSettings):
        if item.name == name:
            return item.metadata.get("help", "")
    raise KeyError(name)


def field_choices(name: str) -> tuple[str, ...]:
    for item in dataclasses.fields(RunSettings):
        if item.name == name:
            return tuple(item.metadata.get("choices", ()))
    raise KeyError(name)


@dataclass(frozen=True)
class StackAssumptions:
    """How the training software behaves; the default is this project's own trainer.

    Changing these reproduces measurements made with other stacks (older transformers,
    bitsandbytes before 0.44, torchtune, plain PyTorch loops).
    """

    name: str = field(
        default="FineTune Studio: transformers 5 Trainer via TRL SFTTrainer, PEFT, bitsandbytes 0.44+",
        metadata=_help("A label for the stack, shown in the assumptions."),
    )
    fused_lm_head: bool = field(
        default=True,
        metadata=_help("TRL's SFTTrainer scores tokens in tiles without materialising the logits."),
    )
    logits_bytes: float = field(
        default=12.0,
        metadata=_help(
            "Without the fused head: bytes per token per vocabulary entry at the loss "
            "backward (fp32 log-softmax, its gradient and the logits' gradient = 12; a "
            "training loop that keeps a shifted copy adds 4)."
        ),
    )
    adapter_dtype: str = field(
        default="auto",
        metadata=_help(
            "auto: fp32 LoRA weights on a 16-bit model (PEFT's default), 16-bit on a "
            "quantized one (TRL casts them); compute: always the compute dtype; fp32: always fp32."
        ),
    )
    bnb_saves_input: bool = field(
        default=False,
        metadata=_help(
            "bitsandbytes before 0.44 (PR #1270) kept each 4-bit layer's input for the "
            "backward pass although it was not needed."
        ),
    )
    kbit_fp32_upcast: bool = field(
        default=True,
        metadata=_help(
            "peft.prepare_model_for_kbit_training casts embeddings, norms and LM head to fp32 "
            "(this project's trainer calls it for QLoRA and 8-bit LoRA); autocast then makes a "
            "16-bit copy of the LM head each time it is used."
        ),
    )
    adapters_autocast: bool = field(
        default=True,
        metadata=_help("Mixed precision autocast is on (Trainer with bf16=True or fp16=True)."),
    )
    attention: str = field(
        default="auto",
        metadata=_help(
            "auto: SDPA, or eager where the model needs it (logit soft-capping); sdpa; eager."
        ),
    )
    shared_kv_heads: bool = field(
        default=False,
        metadata=_help(
            "True when the attention kernel reads grouped K/V heads directly even with a "
            "padding mask; transformers' SDPA path repeats them unless the batch is packed."
        ),
    )
    lora_reaches_experts: bool = field(
        default=False,
        metadata=_help(
            "Whether LoRA target names (gate_proj, up_proj, down_proj) adapt a mixture of "
            "experts' expert MLPs. transformers 5 keeps each layer's experts as 3-D "
            "parameters, not linear layers, so PEFT's target_modules adapt only attention, "
            "routers and shared experts."
        ),
    )
    all_linear_reaches_experts: bool = field(
        default=True,
        metadata=_help(
            "Whether all-linear also adapts a mixture of experts' expert MLPs: this "
            "project's trainer hands the fused expert parameters to PEFT as "
            "target_parameters (one adapter per expert, no LoRA dropout)."
        ),
    )
    foreach_optimizer: bool = field(
        default=True,
        metadata=_help(
            "torch.optim.AdamW uses its foreach implementation, which holds a temporary copy "
            "of one moment during the step (torch 2.x on CUDA)."
        ),
    )
    cuda_context_gib: float = field(
        default=1.0,
        metadata=_help(
            "CUDA context, cuBLAS workspace and kernels, outside PyTorch's allocator "
            "(transformers' docs measured 1.3 GB)."
        ),
    )
    allocator_slack: float = field(
        default=0.15,
        metadata=_help(
            "Fraction of the memory that changes size during a step (activations, logits, "
            "gradients) that the caching allocator holds on top, as fragmentation."
        ),
    )


PROJECT_STACK = StackAssumptions()
