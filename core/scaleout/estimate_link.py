"""The estimator's view of a scaled-out run: the training config as core.estimate's
recipe, with the GPU count and the sharding of the chosen launch strategy."""

from __future__ import annotations

from pathlib import Path

from core.estimate.architecture import load_architecture
from core.estimate.estimator import estimate
from core.estimate.gpus import detected_gpu, find_gpu
from core.estimate.run import run_for_recipe
from core.hardware import detect_hardware
from core.models.bundled import BUNDLED_MODEL_NAME, bundled_model_dir
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
    """The estimator's view of a TrainConfig trained on `total_gpus` GPUs."""
    return run_for_recipe(
        config,
        examples=examples,
        num_gpus=total_gpus,
        sharding=strategy_for(strategy).estimator_sharding,
    )


def _architecture(base_model: str):
    try:
        return load_architecture(base_model)
    except Exception as first:
        if base_model == BUNDLED_MODEL_NAME and (bundled_model_dir() / "config.json").is_file():
            return load_architecture(str(bundled_model_dir()))
        raise first


def pick_gpu(name: str | None) -> tuple[object, str]:
    """(GpuSpec, how it was chosen): the named GPU, the detected one, or a reference GPU."""
    if name:
        return find_gpu(name), f"{name} (as given)"
    try:
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
        return estimate(architecture, settings, gpu), note, ""
    except Exception as error:  # the launch files are still useful without the numbers
        return None, "", f"no estimate: {error}"
