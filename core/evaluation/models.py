"""Which model answers: the prompted base model, a fine-tuned adapter, or a full model folder.

A training run's folder may hold its final adapter or model directly or in a
subfolder (final/, adapter/, model/, merged/, or the latest checkpoint-N/);
`find_trained_model` looks there so the user can point at the run folder itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.runs.record import list_runs

KINDS = ("base", "adapter", "full")
PREFERRED_SUBFOLDERS = ("final", "final_adapter", "adapter", "model", "merged", "output")


class ModelSpecError(ValueError):
    """A model choice that cannot be evaluated, with what to do about it."""


@dataclass(frozen=True)
class ModelSpec:
    """One model to evaluate, as stored with its results."""

    label: str = field(metadata={"help": "How the model is named in tables and reports."})
    base_model: str = field(
        metadata={"help": "The base model folder (for a full fine-tuned model, its own folder)."}
    )
    kind: str = field(
        default="base",
        metadata={
            "help": "base: the base model as is; adapter: a PEFT adapter on the base; "
            "full: a fully fine-tuned model folder."
        },
    )
    adapter: str | None = field(
        default=None, metadata={"help": "The PEFT adapter folder (kind 'adapter' only)."}
    )
    system_prompt: str | None = field(
        default=None,
        metadata={
            "help": "A system prompt put before every eval prompt (replacing the eval set's "
            "own); the baseline uses the user's best prompt here."
        },
    )
    training_run: str | None = field(
        default=None, metadata={"help": "The training run this model came from, if any."}
    )

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ModelSpecError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.kind == "adapter" and not self.adapter:
            raise ModelSpecError("an adapter model needs the adapter folder")
        if self.kind != "adapter" and self.adapter:
            raise ModelSpecError(f"a {self.kind} model takes no adapter folder")
        if not self.label.strip():
            raise ModelSpecError("give the model a label")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> ModelSpec:
        return cls(**{k: raw.get(k) for k in cls.__dataclass_fields__ if k in raw})


def baseline_spec(base_model: str | Path, system_prompt: str | None = None) -> ModelSpec:
    """The base model with the user's best system prompt: the first thing to measure."""
    name = Path(base_model).name
    label = f"{name} + prompt" if system_prompt else name
    return ModelSpec(label=label, base_model=str(base_model), system_prompt=system_prompt)


@dataclass(frozen=True)
class TrainedModel:
    """What a run folder holds: a PEFT adapter (with the base it names) or a full model."""

    kind: str  # "adapter" or "full"
    folder: Path
    base_model: str | None  # an adapter's base_model_name_or_path, if recorded


def _has_weights(folder: Path) -> bool:
    return any(folder.glob("*.safetensors")) or any(folder.glob("*.bin"))


def _what_is_here(folder: Path) -> TrainedModel | None:
    if (folder / "adapter_config.json").is_file():
        try:
            config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ModelSpecError(
                f"{folder}/adapter_config.json is not valid JSON ({error})."
            ) from error
        return TrainedModel("adapter", folder, config.get("base_model_name_or_path"))
    if (folder / "config.json").is_file() and _has_weights(folder):
        return TrainedModel("full", folder, None)
    return None


def _checkpoint_number(folder: Path) -> int:
    match = re.fullmatch(r"checkpoint-(\d+)", folder.name)
    return int(match.group(1)) if match else -1


def find_trained_model(run_folder: str | Path) -> TrainedModel:
    """The final adapter or model in a run folder (or the folder itself)."""
    folder = Path(run_folder).expanduser()
    if not folder.is_dir():
        raise ModelSpecError(f"{folder} is not a folder; choose a training run or adapter folder.")
    found = _what_is_here(folder)
    if found:
        return found
    for name in PREFERRED_SUBFOLDERS:
        found = _what_is_here(folder / name) if (folder / name).is_dir() else None
        if found:
            return found
    checkpoints = sorted(
        (p for p in folder.glob("checkpoint-*") if p.is_dir()), key=_checkpoint_number
    )
    for checkpoint in reversed(checkpoints):
        found = _what_is_here(checkpoint)
        if found:
            return found
    for child in sorted(p for p in folder.iterdir() if p.is_dir()):
        found = _what_is_here(child)
        if found:
            return found
    raise ModelSpecError(
        f"{folder} holds no adapter (adapter_config.json) or model (config.json and weights). "
        "Choose the run's folder once training has saved its result."
    )


def run_spec(
    run_folder: str | Path,
    base_model: str | Path | None = None,
    label: str | None = None,
    system_prompt: str | None = None,
    training_run: str | None = None,
) -> ModelSpec:
    """A fine-tuned model from a run folder; an adapter runs on `base_model` (or the base it names)."""
    trained = find_trained_model(run_folder)
    run_name = training_run or Path(run_folder).name
    label = label or run_name
    if trained.kind == "full":
        return ModelSpec(
            label=label,
            base_model=str(trained.folder),
            kind="full",
            system_prompt=system_prompt,
            training_run=run_name,
        )
    base = str(base_model) if base_model else trained.base_model
    if not base:
        raise ModelSpecError(
            f"The adapter in {trained.folder} does not say which base model it was trained on; "
            "choose the base model as well."
        )
    if not base_model and not Path(base).is_dir():
        raise ModelSpecError(
            f"The adapter in {trained.folder} was trained on {base}, which is not a folder on "
            "this machine; choose the base model folder as well."
        )
    return ModelSpec(
        label=label,
        base_model=base,
        kind="adapter",
        adapter=str(trained.folder),
        system_prompt=system_prompt,
        training_run=run_name,
    )


@dataclass(frozen=True)
class RunModel:
    """A finished training run the Evaluate page can offer, with what it saved."""

    run_id: str
    name: str
    folder: Path  # the run's folder
    trained: TrainedModel
    base_model: str | None  # the base folder the run trained on, when known

    def spec(self, system_prompt: str | None = None) -> ModelSpec:
        return run_spec(self.folder, self.base_model, self.name, system_prompt, self.run_id)


def list_run_models(project) -> list[RunModel]:
    """Every training run of the project that saved a final adapter or model.

    Uses the trainer's run records (names, base model paths); for folders it does not
    know, scans project.runs_dir.
    """
    found: dict[str, RunModel] = {}
    known: set[str] = set()  # run folders the trainer has records for, finished or not

    for run in list_runs(project):
        known.add(str(Path(run.folder).resolve()))
        final_dir = getattr(run, "final_model_dir", None)
        if final_dir is None:
            continue
        try:
            trained = find_trained_model(final_dir)
        except ModelSpecError:
            continue
        base = getattr(run, "base_model_path", None) or trained.base_model
        folder = Path(run.folder)
        found[str(folder.resolve())] = RunModel(run.run_id, run.name, folder, trained, base)
    runs_dir = Path(project.runs_dir)
    if runs_dir.is_dir():
        for run_folder in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
            if str(run_folder.resolve()) in known:
                continue
            try:
                trained = find_trained_model(run_folder)
            except ModelSpecError:
                continue  # a run still training, or one that failed before saving
            found[str(run_folder.resolve())] = RunModel(
                run_folder.name, run_folder.name, run_folder, trained, trained.base_model
            )
    return list(found.values())
