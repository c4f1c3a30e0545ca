"""The words a training recipe is spelled in, defined once for the trainer, the estimator,
the forms and the CLI: precisions, optimizers, schedulers, devices and LoRA targets.
"""

from __future__ import annotations

import re

# What "auto" resolves to on a device (core.training.device), and the recipe's choices.
RESOLVED_PRECISIONS = ("bf16", "fp16", "fp32")
PRECISIONS = ("auto", *RESOLVED_PRECISIONS)
# transformers' `optim` names; the estimator knows each one's state (core.estimate.settings).
OPTIMIZERS = (
    "auto",
    "adamw_torch",
    "adamw_torch_fused",
    "paged_adamw_8bit",
    "paged_adamw_32bit",
    "adamw_8bit",
    "lion_8bit",
    "lion_32bit",
    "adafactor",
    "sgd",
)
# The ones bitsandbytes provides (no Apple MPS).
BITSANDBYTES_OPTIMIZERS = (
    "paged_adamw_8bit",
    "paged_adamw_32bit",
    "adamw_8bit",
    "lion_8bit",
    "lion_32bit",
)
SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup", "cosine_with_restarts")
DEVICES = ("auto", "cpu", "cuda", "mps")
LOSS_ON = ("assistant", "all")
# What a run teaches with: examples (sft), preferred-over-rejected pairs (dpo), or checkable
# rewards of the model's own answers (grpo). core.training.stages picks each one's trainer.
STAGES = ("sft", "dpo", "grpo")
# TRL DPOConfig.loss_type values we offer (each needs only pairs and a reference).
DPO_LOSS_TYPES = ("sigmoid", "ipo", "hinge", "robust")
FINAL_MODEL = ("best", "last")
LORA_BIASES = ("none", "all", "lora_only")
# A memory saver: auto turns it on only when the run needs the memory on its GPU.
SAVER_CHOICES = ("auto", "on", "off")
QUANT_TYPES = ("nf4", "fp4")
# Llama-family layer names, for runs that name their layers explicitly.
PROJECTION_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

# PEFT's value for every linear layer but the output head: the one default of trainer and
# estimator, right on every family (Phi-2's dense/fc1/fc2, StarCoder's c_attn/c_fc), and
# on a mixture of experts also the experts (see core.training.lora_targets).
ALL_LINEAR = "all-linear"
ALL_LINEAR_TARGETS = (ALL_LINEAR,)
# How people type PEFT's value; all mean every linear layer but the output head.
_ALL_LINEAR_SPELLINGS = ("all-linear", "all_linear", "all")

# Far beyond any model's context today, yet finite: a typo like 1e20 must stop at
# validation, not after a pre-flight that cannot fit it.
MAX_SEQ_LENGTH = 2_097_152


def is_all_linear(names) -> bool:
    """True when the target list is PEFT's all-linear (alone), in any common spelling."""
    cleaned = [str(name).strip() for name in names if str(name).strip()]
    return len(cleaned) == 1 and cleaned[0].lower() in _ALL_LINEAR_SPELLINGS


def describe_targets(names) -> str:
    """The targets as the GUI and CLI show them."""
    if is_all_linear(names):
        return "all linear layers"
    return ", ".join(names)


def parse_targets(text: str) -> list[str]:
    """Target modules typed as text: "all-linear", "q_proj,v_proj" or "q_proj v_proj"."""
    parts = [part for part in re.split(r"[,\s]+", text.strip()) if part]
    return [ALL_LINEAR] if not parts or is_all_linear(parts) else parts
