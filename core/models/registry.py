"""The base models a user can pick: the bundled default, local Hugging Face folders the
project added, and models already in the Hugging Face cache (listed from disk, no network).

Local folders are checked before they are accepted: custom code (`auto_map`) needs
the user's explicit trust for that folder, and pickle `.bin` weights (which can run
code when loaded) need the user's explicit confirmation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from core.models.bundled import (
    BUNDLED_MODEL_NAME,
    bundled_model_dir,
    ensure_bundled_model,
    is_converted,
)
from core.models.convert_weights import convert_command
from core.models.folder_checks import unknown_model_type, weights_problem
from core.models.hub_cache import (
    CachedModel,
    cached_model,
    cached_models,
    hub_cache_dir,
    looks_like_hub_id,
)
from core.models.remote_code import (
    UntrustedCodeError,
    find_custom_code,
    trust_folder,
    trust_remote_code_for,
)
from core.project.store import Project, utc_now

BUNDLED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # where the bundled GGUF came from
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")


class ModelFolderError(Exception):
    """A local folder that cannot be used as a base model, with what to do about it."""


@dataclass
class BaseModel:
    name: str
    path: Path | None  # None until the bundled model is converted
    source: str  # "bundled", "local" or "hub" (the Hugging Face cache)
    trust_remote_code: bool = False
    allow_pickle: bool = False
    hub_id: str | None = None  # "org/name" when the model came from the Hub
    revision: str | None = None  # the commit sha of that snapshot, pinned in the run record


@dataclass
class FolderCheck:
    needs_remote_code: bool
    pickle_only: bool
    model_type: str | None


def pickle_refusal(folder: Path, confirm: str = "") -> str:
    """Why a pickle-only folder is refused, and the one command that lifts it. `models
    trust` is for a folder's code (auto_map), not for its weights: it does not lift this."""
    where = (
        f"; or {confirm}"
        if confirm
        else "; or add the folder on the Project page and confirm its pickle weights there"
    )
    return (
        f"{folder} has only pickle .bin weights, which can run code when loaded, so they are "
        f"not loaded. Convert them to safetensors in a new folder (your folder is not changed): "
        f"{convert_command(folder)}, then use the new folder{where}."
    )


def check_model_folder(folder: str | Path) -> FolderCheck:
    """Check that a folder looks like a loadable HF causal LM; raise ModelFolderError if not."""
    folder = Path(folder).expanduser()
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelFolderError(f"{folder} has no config.json: choose a Hugging Face model folder.")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelFolderError(f"{config_path} is not valid JSON ({error}).") from error
    safetensors = list(folder.glob("*.safetensors"))
    pickles = list(folder.glob("*.bin"))
    if not safetensors and not pickles:
        raise ModelFolderError(f"{folder} has no weights (*.safetensors or *.bin).")
    damaged = weights_problem(folder)
    if damaged:
        raise ModelFolderError(damaged)
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise ModelFolderError(
            f"{folder} has no tokenizer files ({', '.join(TOKENIZER_FILES)}); "
            "save the tokenizer into the same folder."
        )
    return FolderCheck(
        # auto_map in any config file (tokenizer_config.json too) or .py files in the folder.
        needs_remote_code=bool(find_custom_code(folder)),
        pickle_only=not safetensors,
        model_type=config.get("model_type"),
    )


def add_local_model(
    project: Project,
    folder: str | Path,
    name: str | None = None,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
) -> BaseModel:
    folder = Path(folder).expanduser().resolve()
    check = check_model_folder(folder)
    if check.needs_remote_code and not trust_remote_code:
        raise ModelFolderError(
            f"{folder} needs custom Python code from its own files (auto_map in config.json). "
            "Allow remote code for this folder only if you trust where it came from."
        )
    if check.pickle_only and not allow_pickle:
        raise ModelFolderError(
            pickle_refusal(folder, "confirm that you trust its weights when you add the folder")
        )
    name = name or folder.name
    with project.transaction() as conn:
        conn.execute(
            "INSERT INTO project_models(name, path, trust_remote_code, allow_pickle, added_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET path = excluded.path, "
            "trust_remote_code = excluded.trust_remote_code, allow_pickle = excluded.allow_pickle",
            (name, str(folder), int(trust_remote_code), int(allow_pickle), utc_now()),
        )
    if check.needs_remote_code and trust_remote_code:
        trust_folder(folder)  # every load site asks core.models.remote_code, not the project
    return BaseModel(name, folder, "local", trust_remote_code, allow_pickle)


def list_base_models(project: Project | None, hub_cache: bool = False) -> list[BaseModel]:
    """The bundled model first, then the project's local folders, then (when asked: the picker,
    Train and Estimate pages) the models in the Hugging Face cache."""
    models = [
        BaseModel(
            BUNDLED_MODEL_NAME,
            bundled_model_dir() if is_converted() else None,
            "bundled",
            hub_id=BUNDLED_HUB_ID,
        )
    ]
    if project is not None:
        rows = project.connection().execute(
            "SELECT name, path, trust_remote_code, allow_pickle FROM project_models ORDER BY name"
        )
        models += [
            BaseModel(row[0], Path(row[1]), "local", bool(row[2]), bool(row[3])) for row in rows
        ]
    if hub_cache:
        models += [_hub_model(cached) for cached in cached_models()]
    return models


def _hub_model(cached: CachedModel) -> BaseModel:
    return BaseModel(
        cached.hub_id, cached.path, "hub", hub_id=cached.hub_id, revision=cached.revision
    )


def _refuse_unknown_model_type(folder: Path, check: FolderCheck) -> None:
    # A folder with its own code brings its own model_type; the others must be known.
    problem = None if check.needs_remote_code else unknown_model_type(folder, check.model_type)
    if problem:
        raise ModelFolderError(problem)


def resolve_model(
    name_or_path: str, project: Project | None = None, allow_pickle: bool = False
) -> BaseModel:
    """A model by registry name, bundled name or folder path; the bundled one is converted."""
    if name_or_path.lower() in (BUNDLED_MODEL_NAME.lower(), "bundled", "smollm2"):
        return BaseModel(
            BUNDLED_MODEL_NAME, ensure_bundled_model(), "bundled", hub_id=BUNDLED_HUB_ID
        )
    for model in list_base_models(project, hub_cache=False):
        if model.name == name_or_path and model.path is not None:
            return model
    if looks_like_hub_id(name_or_path):
        cached = cached_model(name_or_path)
        if cached is None:
            raise ModelFolderError(
                f"{name_or_path} is not in the Hugging Face cache ({hub_cache_dir()}): download "
                f"it from the model picker, or run: finetune-studio models download {name_or_path}"
            )
        check = check_model_folder(cached.path)
        _refuse_unknown_model_type(cached.path, check)
        if check.needs_remote_code:
            raise ModelFolderError(
                f"{name_or_path} needs custom code; add its folder ({cached.path}) to the "
                "project and allow remote code first."
            )
        if check.pickle_only and not allow_pickle:
            raise ModelFolderError(pickle_refusal(cached.path))
        return replace(_hub_model(cached), allow_pickle=allow_pickle)
    folder = Path(name_or_path).expanduser()
    if folder.is_dir():
        check = check_model_folder(folder)
        _refuse_unknown_model_type(folder, check)
        if check.needs_remote_code:
            try:
                trust_remote_code_for(folder)  # names the file and field, unless trusted
            except UntrustedCodeError as error:
                raise ModelFolderError(str(error)) from error
        if check.pickle_only and not allow_pickle:
            raise ModelFolderError(pickle_refusal(folder))
        return BaseModel(
            folder.name,
            folder.resolve(),
            "local",
            trust_remote_code=check.needs_remote_code,
            allow_pickle=allow_pickle,
        )
    raise ModelFolderError(
        f"Unknown model '{name_or_path}': give a model folder, a Hugging Face id (org/name) "
        f"in the cache, or '{BUNDLED_MODEL_NAME}'."
    )
