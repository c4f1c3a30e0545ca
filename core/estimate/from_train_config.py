"""The one mapping from a training run's TrainConfig to the estimator's RunSettings.

Pre-flight, the Runs page, scale-out plans and the Train page all ask the estimator about
a TrainConfig; they must all describe the run the trainer will actually do, so they all
build their RunSettings here. The precision rule mirrors core.training.model_loading:
full fine-tuning loads fp32 master weights and autocasts (bf16-mixed), the adapter methods
load the base in the compute precision.
"""

from __future__ import annotations

from core.estimate.settings import ALL_LINEAR, OPTIMIZERS, RunSettings


def estimator_precision(method: str, precision: str, bf16_supported: bool = True) -> str:
    """The estimator's precision for a trainer precision (auto, bf16, fp16, fp32).

    auto resolves as the trainer resolves it on a CUDA GPU: bf16 where supported, else fp16.
    """
    if precision == "auto":
        precision = "bf16" if bf16_supported else "fp16"
    if precision == "fp32":
        return "fp32"
    if precision == "fp16":
        return "fp16"  # full fine-tuning: fp32 weights for the gradient scaler (memory.py)
    if precision != "bf16":
        raise ValueError(f"precision must be auto, bf16, fp16 or fp32, not {precision!r}")
    # The trainer loads full fine-tuning in fp32 and autocasts to bf16; adapters on a bf16 base.
    return "bf16-mixed" if method == "full" else "bf16"


def estimator_optimizer(config, device: str = "cuda") -> str:
    """The optimizer the trainer will use on `device`, as one the estimator knows."""
    name = config.effective_optimizer(device)
    return name if name in OPTIMIZERS else "adamw_torch"


def run_settings_from_train_config(
    config,
    *,
    precision: str | None = None,
    optimizer: str | None = None,
    bf16_supported: bool = True,
    device: str = "cuda",
    examples: int | None = None,
    avg_tokens: int | None = None,
    dataset_tokens: int | None = None,
    num_gpus: int = 1,
    sharding: str = "none",
) -> RunSettings:
    """RunSettings for a core.training TrainConfig.

    precision: the resolved trainer precision (a DevicePlan's), else config.precision.
    optimizer: the optimizer the run used (run.json), else the one the config picks on `device`.
    examples / avg_tokens / dataset_tokens: data facts when known (else RunSettings' defaults).
    """
    data: dict = {}
    if examples:
        data["examples"] = max(1, int(examples))
    if avg_tokens:
        data["avg_tokens"] = max(1, int(avg_tokens))
    if dataset_tokens and dataset_tokens > 0:
        data["dataset_tokens"] = int(dataset_tokens)
    return RunSettings(
        method=config.method,
        precision=estimator_precision(config.method, precision or config.precision, bf16_supported),
        optimizer=optimizer if optimizer in OPTIMIZERS else estimator_optimizer(config, device),
        micro_batch_size=config.micro_batch_size,
        gradient_accumulation=config.gradient_accumulation,
        max_seq_length=config.max_seq_length,
        packing=config.packing,
        gradient_checkpointing=config.gradient_checkpointing,
        lora_r=config.lora_r,
        lora_target_modules=tuple(config.lora_target_modules) or ALL_LINEAR,
        lora_dropout=config.lora_dropout,
        double_quant=config.double_quant,
        num_gpus=num_gpus,
        sharding=sharding,
        epochs=config.epochs if config.epochs > 0 else 1.0,
        **data,
    )


def train_settings_from_run_settings(settings: RunSettings) -> dict:
    """The TrainConfig fields for an estimate's settings ("Train with these settings").

    Only what the trainer can take: an optimizer the trainer does not offer is left out
    (the Train form keeps its own). Targets carry over as they are, all-linear included
    (the trainer's default too).
    """
    from core.recipe.vocabularies import OPTIMIZERS as TRAINER_OPTIMIZERS

    values: dict = {
        "method": settings.method,
        "precision": {"bf16-mixed": "bf16"}.get(settings.precision, settings.precision),
        "micro_batch_size": settings.micro_batch_size,
        "gradient_accumulation": settings.gradient_accumulation,
        "max_seq_length": settings.max_seq_length,
        "packing": settings.packing,
        "gradient_checkpointing": settings.gradient_checkpointing,
        "lora_r": settings.lora_r,
        "lora_dropout": settings.lora_dropout,
        "double_quant": settings.double_quant,
        "epochs": settings.epochs,
    }
    if settings.optimizer in TRAINER_OPTIMIZERS:
        values["optimizer"] = settings.optimizer
    targets = settings.target_names()
    values["lora_target_modules"] = list(targets) if targets else list(ALL_LINEAR)
    return values
