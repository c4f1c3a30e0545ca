"""A stage that continues a finished run: its LoRA adapter loaded onto the same base model,
trainable, instead of a new adapter (SFT, then DPO or GRPO on top, or SFT on more data)."""

from __future__ import annotations

import json
from pathlib import Path

from core.recipe.config import TrainConfig, TrainConfigError
from core.runs import record as runs
from core.training.device import DevicePlan
from core.training.model_loading import load_base_model


def adapter_to_continue(project, config: TrainConfig, base_path: Path) -> Path | None:
    """The final adapter folder of config.start_from, or None to start from the base.
    A run that is not finished, is not a LoRA run or trained another base is refused."""
    run_id = config.start_from.strip()
    if not run_id:
        return None
    if project is None:
        raise TrainConfigError("start_from", "continuing a run needs its project.")
    try:
        run = runs.load_run(project, run_id)
    except runs.RunNotFound as error:
        raise TrainConfigError("start_from", str(error)) from None
    folder = run.folder / runs.FINAL_DIR
    if run.status != runs.RunState.FINISHED or not (folder / "adapter_config.json").is_file():
        raise TrainConfigError(
            "start_from",
            f"{run_id} has no finished LoRA adapter to continue ({run.status}); choose a "
            "finished LoRA or QLoRA run, or leave Start from empty for the base model.",
        )
    if Path(run.base_model_path).resolve() != Path(base_path).resolve():
        raise TrainConfigError(
            "start_from",
            f"{run_id} trained {run.base_model}, not {config.base_model}; choose that base "
            "model or another run.",
        )
    if not config.is_adapter_method:
        raise TrainConfigError(
            "start_from", f"continuing {run_id}'s adapter needs method lora or qlora."
        )
    return folder


def kept_lora_settings_note(config: TrainConfig, adapter_dir: Path) -> str:
    """What the continued adapter keeps of its own run where this recipe says otherwise (its
    rank and alpha: a loaded adapter is trained as it is, not re-shaped), "" when they
    agree or the adapter's settings cannot be read."""
    try:
        saved = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
        kept = {"lora_r": int(saved["r"]), "lora_alpha": int(saved["lora_alpha"])}
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    differ = [
        f"{name} {value} (set {getattr(config, name)})"
        for name, value in kept.items()
        if value != getattr(config, name)
    ]
    if not differ:
        return ""
    return (
        f"the continued adapter keeps its own {', '.join(differ)}: "
        f"{config.start_from}'s LoRA is trained as it is"
    )


def load_adapter(model, adapter_dir: Path):
    """The model with the adapter loaded for training (its weights go on learning)."""
    # peft is heavy: loaded when a model is
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=True)


def load_policy_model(project, config: TrainConfig, plan: DevicePlan, base_path: Path):
    """The model an SFT, DPO or GRPO stage starts from, as its run loads it: the base with
    config.start_from's adapter loaded trainable, else the bare base (the stage adds a new
    LoRA or trains it fully). Returns (model, the adapter folder or None); start_from is
    checked before anything is loaded."""
    adapter_dir = adapter_to_continue(project, config, base_path)
    model = load_base_model(config, plan, base_path)
    if adapter_dir is not None:
        model = load_adapter(model, adapter_dir)
    return model, adapter_dir
