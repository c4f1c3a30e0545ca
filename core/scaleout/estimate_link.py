"""The estimator's view of a scaled-out run: the training config as core.estimate's
RunSettings, with the GPU count and the sharding of the chosen launch strategy."""

from __future__ import annotations

from pathlib import Path

from core.scaleout.strategies import strategy_for

REFERENCE_GPU = "A100 80GB"


def count_examples(train_file: str) -> int | None:
    """Non-empty lines of a JSONL training file (one conversation each), if readable."""
    try:
        with open(Path(train_file).expanduser(), encoding="utf-8") as handle:
            return sum(1 for line in handle if line.strip()) or None
    except (OSError, UnicodeDecodeError):
        return None


def run_settings_for(config, total_gpus: int, strategy: str, examples: int | None = None):
    """core.estimate.RunSettings for a TrainConfig trained on `total_gpus` GPUs."""
    from core.estimate.settings import OPTIMIZERS, RunSettings

    precision = {"fp16": "fp16", "fp32": "fp32"}.get(config.precision, "bf16")
    if config.method == "full" and precision == "bf16":
        precision = "bf16-mixed"  # the trainer keeps fp32 master weights and autocasts
    optimizer = config.effective_optimizer("cuda")
    targets = ",".join(config.lora_target_modules) or "all-linear"
    return RunSettings(
        method=config.method,
        precision=precision,
        optimizer=optimizer if optimizer in OPTIMIZERS else "adamw_torch",
        micro_batch_size=config.micro_batch_size,
        grad_accum=config.gradient_accumulation,
        seq_len=config.max_seq_length,
        packing=config.packing,
        gradient_checkpointing=config.gradient_checkpointing,
        lora_r=config.lora_r,
        lora_targets=targets,
        lora_dropout=config.lora_dropout,
        double_quant=config.double_quant,
        num_gpus=total_gpus,
        sharding=strategy_for(strategy).estimator_sharding,
        examples=examples or 1000,
        epochs=config.epochs if config.epochs > 0 else 1.0,
    )


def _architecture(base_model: str):
    from core.estimate.architecture import load_architecture

    try:
        return load_architecture(base_model)
    except Exception as first:
        from core.models.bundled import BUNDLED_MODEL_NAME, bundled_model_dir

        if base_model == BUNDLED_MODEL_NAME and (bundled_model_dir() / "config.json").is_file():
            return load_architecture(str(bundled_model_dir()))
        raise first


def pick_gpu(name: str | None) -> tuple[object, str]:
    """(GpuSpec, how it was chosen): the named GPU, the detected one, or a reference GPU."""
    from core.estimate.gpus import detected_gpu, find_gpu

    if name:
        return find_gpu(name), f"{name} (as given)"
    try:
        from core.hardware import detect_hardware

        found = detected_gpu(detect_hardware())
    except Exception:
        found = None
    if found is not None:
        return found, f"{found.name} (detected here)"
    return find_gpu(REFERENCE_GPU), (
        f"{REFERENCE_GPU} (no GPU named or detected; pass --gpu for yours)"
    )


def estimate_scaled_run(config, total_gpus: int, strategy: str, gpu_name: str | None = None):
    """(Estimate or None, GPU note, problem): the estimator on the same sharding as the launch."""
    try:
        gpu, note = pick_gpu(gpu_name)
        architecture = _architecture(config.base_model)
        settings = run_settings_for(config, total_gpus, strategy, count_examples(config.train_file))
        from core.estimate.estimator import estimate

        return estimate(architecture, settings, gpu), note, ""
    except Exception as error:  # the launch files are still useful without the numbers
        return None, "", f"no estimate: {error}"
