"""The base models a user can pick: the bundled default and local Hugging Face folders.

Local folders are checked before they are accepted: custom code (`auto_map`) needs
the user's explicit trust for that folder, and pickle `.bin` weights (which can run
code when loaded) need the user's explicit confirmation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.models.bundled import BUNDLED_MODEL_NAME, bundled_model_dir, is_converted
from core.project.store import Project, utc_now

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")


class ModelFolderError(Exception):
    """A local folder that cannot be used as a base model, with what to do about it."""


@dataclass
class BaseModel:
    name: str
    path: Path | None  # None until the bundled model is converted
    source: str  # "bundled" or "local"
    trust_remote_code: bool = False
    allow_pickle: bool = False


@dataclass
class FolderCheck:
    needs_remote_code: bool
    pickle_only: bool
    model_type: str | None


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
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise ModelFolderError(
            f"{folder} has no tokenizer files ({', '.join(TOKENIZER_FILES)}); "
            "save the tokenizer into the same folder."
        )
    return FolderCheck(
        needs_remote_code="auto_map" in config,
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
            f"{folder} has only pickle .bin weights, which can run code when loaded. "
            "Convert them to safetensors, or confirm that you trust this folder."
        )
    name = name or folder.name
    with project.transaction() as conn:
        conn.execute(
            "INSERT INTO project_models(name, path, trust_remote_code, allow_pickle, added_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET path = excluded.path, "
            "trust_remote_code = excluded.trust_remote_code, allow_pickle = excluded.allow_pickle",
            (name, str(folder), int(trust_remote_code), int(allow_pickle), utc_now()),
        )
    return BaseModel(name, folder, "local", trust_remote_code, allow_pickle)


def list_base_models(project: Project | None) -> list[BaseModel]:
    """The bundled model first, then the project's local folders."""
    models = [
        BaseModel(BUNDLED_MODEL_NAME, bundled_model_dir() if is_converted() else None, "bundled")
    ]
    if project is not None:
        rows = project.connection().execute(
            "SELECT name, path, trust_remote_code, allow_pickle FROM project_models ORDER BY name"
        )
        models += [
            BaseModel(row[0], Path(row[1]), "local", bool(row[2]), bool(row[3])) for row in rows
        ]
    return models


def resolve_model(
    name_or_path: str, project: Project | None = None, allow_pickle: bool = False
) -> BaseModel:
    """A model by registry name, bundled name or folder path; the bundled one is converted."""
    from core.models.bundled import ensure_bundled_model

    if name_or_path.lower() in (BUNDLED_MODEL_NAME.lower(), "bundled", "smollm2"):
        return BaseModel(BUNDLED_MODEL_NAME, ensure_bundled_model(), "bundled")
    for model in list_base_models(project):
        if model.name == name_or_path and model.path is not None:
            return model
    folder = Path(name_or_path).expanduser()
    if folder.is_dir():
        check = check_model_folder(folder)
        if check.needs_remote_code:
            raise ModelFolderError(
                f"{folder} needs custom code; add it to the project and allow remote code first."
            )
        if check.pickle_only and not allow_pickle:
            raise ModelFolderError(
                f"{folder} has only pickle .bin weights, which can run code when loaded; "
                "convert them to safetensors or confirm that you trust this folder."
            )
        return BaseModel(folder.name, folder.resolve(), "local", allow_pickle=allow_pickle)
    raise ModelFolderError(
        f"Unknown model '{name_or_path}': give a model folder, or '{BUNDLED_MODEL_NAME}'."
    )
