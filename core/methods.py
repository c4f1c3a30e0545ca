"""The fine-tuning methods this app offers, registered once with what each one is.

Training, the estimator, export, scale-out and the GUI all read a method's facts from here
(as PEFT registers its methods) instead of spelling the names and their properties again.
"""

from __future__ import annotations

from dataclasses import dataclass

# The guide's learning rates: 1e-4 to 3e-4 for LoRA/QLoRA, much lower (1e-5 to 5e-5) for
# full fine-tuning to avoid catastrophic forgetting.
ADAPTER_LEARNING_RATE = 2e-4
FULL_LEARNING_RATE = 2e-5


@dataclass(frozen=True)
class Method:
    """One fine-tuning method and the facts every part of the app needs about it."""

    name: str
    title: str  # short, for pickers and tables
    card_title: str  # lower-case phrase for a model card's sentence
    trains_adapters: bool  # False: every weight is trained and saved
    quantized_bits: int | None  # the frozen base's bits when quantized by bitsandbytes
    quantization: str | None  # how the base is quantized, in words (export shows it)
    default_learning_rate: float
    compared: bool  # the estimator compares it for every model (lora8bit only on request)
    # The estimator's model FLOPs utilisation for a 7B-class model on one GPU with
    # transformers + PEFT: dequantizing the base costs QLoRA and, more, LLM.int8 speed.
    utilisation: float


METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method(
            "full",
            "Full fine-tuning",
            "full fine-tuning",
            trains_adapters=False,
            quantized_bits=None,
            quantization=None,
            default_learning_rate=FULL_LEARNING_RATE,
            compared=True,
            utilisation=0.35,
        ),
        Method(
            "lora",
            "LoRA",
            "LoRA",
            trains_adapters=True,
            quantized_bits=None,
            quantization=None,
            default_learning_rate=ADAPTER_LEARNING_RATE,
            compared=True,
            utilisation=0.28,
        ),
        Method(
            "qlora",
            "QLoRA (4-bit)",
            "QLoRA (LoRA on a 4-bit NF4 base)",
            trains_adapters=True,
            quantized_bits=4,
            quantization="4-bit (NF4)",
            default_learning_rate=ADAPTER_LEARNING_RATE,
            compared=True,
            utilisation=0.24,
        ),
        Method(
            "lora8bit",
            "LoRA on an 8-bit base",
            "LoRA on an 8-bit base",
            trains_adapters=True,
            quantized_bits=8,
            quantization="8-bit (LLM.int8)",
            default_learning_rate=ADAPTER_LEARNING_RATE,
            compared=False,
            utilisation=0.12,
        ),
    )
}

METHOD_NAMES = tuple(METHODS)
ADAPTER_METHODS = tuple(name for name, method in METHODS.items() if method.trains_adapters)
QUANTIZED_METHODS = tuple(name for name, method in METHODS.items() if method.quantized_bits)
COMPARED_METHODS = tuple(name for name, method in METHODS.items() if method.compared)
METHOD_TITLES = {name: method.title for name, method in METHODS.items()}
