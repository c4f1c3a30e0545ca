"""What an export starts from: a finished training run, its final model and its facts.

The run's final/ folder holds an adapter (LoRA methods) or a full model, with the
tokenizer; studio_model.json and run.json say which base it was trained on and how.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.json_file import read_json_object
from core.methods import ADAPTER_METHODS, METHODS
from core.project.store import Project
from core.runs.record import RunNotFound, RunState, load_run


class ExportSourceError(ValueError):
    """The run cannot be exported (yet), with what to do about it."""


@dataclass(frozen=True)
class ExportSource:
    """One run's final model and everything the model card needs about it."""

    run: object  # core.runs.record.RunInfo
    model_dir: Path  # the run's final/ folder
    base_path: Path  # the base model folder the adapter was trained on
    studio_model: dict  # final/studio_model.json
    run_json: dict  # run.json
    config_yaml: str  # the run's config.yaml text

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def method(self) -> str:
        return self.run.method

    @property
    def is_adapter(self) -> bool:
        return self.method in ADAPTER_METHODS

    @property
    def quantized_training(self) -> str | None:
        """'4-bit (NF4)' for a QLoRA run, '8-bit (LLM.int8)' for 8-bit LoRA, else None."""
        method = METHODS.get(self.method)
        return method.quantization if method else None

    @property
    def base_name(self) -> str:
        return self.run.base_model


def load_export_source(project: Project, run_id: str) -> ExportSource:
    """The run's final model, checked to be complete; ExportSourceError says what is missing."""
    try:
        run = load_run(project, run_id)
    except RunNotFound as error:
        raise ExportSourceError(
            f"{error} Choose one of the project's runs (finetune-studio train --list)."
        ) from None
    if run.status == RunState.RUNNING:
        raise ExportSourceError(f"{run_id} is still training; export it once it has finished.")
    model_dir = run.final_model_dir
    if model_dir is None or not model_dir.is_dir():
        raise ExportSourceError(
            f"{run_id} has no final model ({run.status}: {run.reason or 'no reason recorded'}). "
            "Resume it to the end, or train it again."
        )
    studio_model = read_json_object(model_dir / "studio_model.json")
    expected = "adapter_config.json" if run.method in ADAPTER_METHODS else "config.json"
    if not (model_dir / expected).is_file():
        raise ExportSourceError(
            f"{model_dir} lacks {expected}: the final model of {run_id} is incomplete. "
            "Train the run again."
        )
    base = studio_model.get("base_model_path") or run.base_model_path
    base_path = Path(base) if base else model_dir
    if run.method in ADAPTER_METHODS and not (base_path / "config.json").is_file():
        raise ExportSourceError(
            f"The base model of {run_id} is not at {base_path} any more. Put the base model "
            f"{run.base_model} back there (or prepare it again with finetune-studio models "
            "prepare), then export."
        )
    try:
        config_yaml = run.config_path.read_text(encoding="utf-8")
    except OSError:
        config_yaml = ""
    return ExportSource(
        run=run,
        model_dir=model_dir,
        base_path=base_path,
        studio_model=studio_model,
        run_json=read_json_object(run.folder / "run.json"),
        config_yaml=config_yaml,
    )
