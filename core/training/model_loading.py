"""Loading the base model for a method: full, LoRA, QLoRA (NF4 4-bit) or 8-bit LoRA.

- full: fp32 master weights; bf16/fp16 only as autocast (mixed precision).
- lora: the frozen base in the compute precision, the adapters in fp32.
- qlora: the base quantized to 4 bit by bitsandbytes (NF4, double quantization, compute
  in bf16 where supported, fp32 on the CPU), adapters on top.
- lora8bit: the base quantized to 8 bit (LLM.int8), adapters on top.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from core.methods import METHODS, QUANTIZED_METHODS
from core.models.load_lock import model_loading
from core.models.remote_code import trust_remote_code_for
from core.recipe.config import TrainConfig
from core.training.device import DevicePlan
from core.training.lora_targets import LoraTargets
from core.training.memory_savers import prepare_quantized_without_upcast


@contextlib.contextmanager
def quiet_progress_bars() -> Iterator[None]:
    """No tqdm bars from transformers (weights) and datasets (packing) on the console:
    the run has its own progress, and the bars would interleave with the CLI's lines."""
    # datasets is heavy: loaded when data is tokenized
    import datasets

    # transformers is heavy: loaded when a model is
    from transformers.utils import logging as hf_logging

    hf_was_enabled = hf_logging.is_progress_bar_enabled()
    ds_was_enabled = datasets.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if hf_was_enabled:
            hf_logging.enable_progress_bar()
        if ds_was_enabled:
            datasets.enable_progress_bars()


def drop_console_printer(trainer) -> None:
    """With tqdm off, the Trainer prints every log dict to stdout; our records replace it."""
    # transformers is heavy: loaded when a model is
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)


def load_tokenizer(model_path: Path):
    # transformers is heavy: loaded when a model is
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(
        str(model_path), trust_remote_code=trust_remote_code_for(model_path)
    )
    if tokenizer.pad_token is None:
        # Padding positions are masked out of attention and loss, so any token will do.
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer


def quantization_config(config: TrainConfig, plan: DevicePlan):
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    # transformers is heavy: loaded when a model is
    from transformers import BitsAndBytesConfig

    bits = METHODS[config.method].quantized_bits
    if bits == 4:
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=config.quant_type,
            bnb_4bit_use_double_quant=config.double_quant,
            bnb_4bit_compute_dtype=getattr(torch, plan.compute_dtype_name),
        )
    if bits == 8:
        return BitsAndBytesConfig(load_in_8bit=True)
    return None


def lora_config(config: TrainConfig, targets: LoraTargets):
    """PEFT's LoraConfig for the run, with the targets resolved against the loaded model
    (core.training.lora_targets.resolve_targets): all-linear as the model's own linear
    layer names plus, on a mixture of experts, its expert parameters (then no dropout)."""
    # peft is heavy: loaded when a model is
    from peft import LoraConfig

    extra = {"target_parameters": list(targets.parameters)} if targets.parameters else {}
    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=targets.dropout,
        target_modules=list(targets.modules),
        bias=config.lora_bias,
        task_type="CAUSAL_LM",
        **extra,
    )


def model_load_kwargs(config: TrainConfig, plan: DevicePlan) -> dict:
    """from_pretrained's dtype and quantization for the method (also used by the
    estimator's simulation, so that it builds the model exactly as training does)."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    kwargs: dict = {}
    quant = quantization_config(config, plan)
    if quant is not None:
        kwargs["quantization_config"] = quant
        kwargs["device_map"] = {"": 0 if plan.device == "cuda" else plan.device}
        kwargs["dtype"] = getattr(torch, plan.compute_dtype_name)
    elif config.method == "lora":
        kwargs["dtype"] = getattr(torch, plan.compute_dtype_name)
    else:
        kwargs["dtype"] = torch.float32
    return kwargs


def prepare_loaded_model(model, config: TrainConfig):
    """What training does to the model right after loading it."""
    if config.method in QUANTIZED_METHODS and config.frozen_16bit == "on":
        model = prepare_quantized_without_upcast(model, config.gradient_checkpointing)
    elif config.method in QUANTIZED_METHODS:
        # peft is heavy: loaded when a model is
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.gradient_checkpointing
        )
    model.config.use_cache = False  # the KV cache is useless in training and costs memory
    return model


def load_base_model(config: TrainConfig, plan: DevicePlan, model_path: Path):
    """The model ready to hand to SFTTrainer (adapters are added by TRL from lora_config)."""
    # transformers is heavy: loaded when a model is
    from transformers import AutoModelForCausalLM

    kwargs = model_load_kwargs(config, plan)
    kwargs["trust_remote_code"] = trust_remote_code_for(model_path)
    with model_loading():
        model = AutoModelForCausalLM.from_pretrained(str(model_path), **kwargs)
    return prepare_loaded_model(model, config)


def match_adapter_dtype(model, plan: DevicePlan) -> None:
    """TRL casts QLoRA adapters to bf16 (as the paper does on GPUs). With fp32 compute on the
    CPU that only loses precision, so put them back in the compute dtype."""
    # torch is heavy (seconds to import): loaded when a model is
    import torch

    if not getattr(model, "is_loaded_in_4bit", False) and not getattr(
        model, "is_loaded_in_8bit", False
    ):
        return
    target = getattr(torch, plan.compute_dtype_name)
    if target == torch.bfloat16:
        return
    for _name, param in model.named_parameters():
        if param.requires_grad and param.dtype != target:
            param.data = param.data.to(target)


def count_parameters(model) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
