"""The facts about the training stack the estimator assumes: what each optimizer keeps per
parameter, and how the software that trains behaves (StackAssumptions, this project's by
default), so that published measurements made with other stacks can be reproduced by
changing only those facts. The run itself is the recipe (core.estimate.run).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from core.recipe.vocabularies import OPTIMIZERS, STAGES


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


OPTIMIZER_STATE: dict[str, OptimizerSpec] = {
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


# Every optimizer the recipe can name has its state here (one vocabulary, core.recipe).
assert set(OPTIMIZER_STATE) == set(OPTIMIZERS) - {"auto"}, "optimizer vocabularies differ"


# The TRL trainer this project's own stack runs for each stage (core.training.stages).
STAGE_TRAINERS = {"sft": "SFTTrainer", "dpo": "DPOTrainer", "grpo": "GRPOTrainer"}
assert set(STAGE_TRAINERS) == set(STAGES), "a stage without its trainer's name"


@dataclass(frozen=True)
class StackAssumptions:
    """How the training software behaves; the default is this project's own trainer.

    Changing these reproduces measurements made with other stacks (older transformers,
    bitsandbytes before 0.44, torchtune, plain PyTorch loops).
    """

    name: str = field(
        default=f"FineTune Studio: transformers 5 Trainer via TRL {STAGE_TRAINERS['sft']}, PEFT, "
        "bitsandbytes 0.44+",
        metadata=_help(
            "A label for the stack, shown in the assumptions (the project's own names the "
            "stage's TRL trainer)."
        ),
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


def stack_for_stage(stack: StackAssumptions, stage: str) -> StackAssumptions:
    """The stack as the stage runs it: the project's own names that stage's TRL trainer
    (its label said SFTTrainer for a DPO or GRPO estimate); another stack is as given."""
    if stack.name != PROJECT_STACK.name:
        return stack
    return replace(stack, name=stack.name.replace(STAGE_TRAINERS["sft"], STAGE_TRAINERS[stage]))
