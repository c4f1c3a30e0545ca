"""Whether a model folder may run its own Python code, decided before transformers sees it.

A folder can ask transformers to import its .py files through `auto_map` in any of its
config files (config.json, tokenizer_config.json, processor and generation configs). Left
to itself, transformers asks "run the custom code? [y/N]" on stdin, so a stray "y" (or a
pipe) runs whatever the folder holds. Every load site asks `trust_remote_code_for(folder)`
instead: False when the folder has no custom code, True when the user trusted this folder,
and an UntrustedCodeError (nothing loaded) otherwise. Trusted folders are kept in the app's
settings folder, each with a hash of the code it had when the user trusted it: code that
changed since (a new .py file, an edited auto_map) asks again. The filesystem root and the
home folder are never trusted as a whole.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from core.app_dirs import config_dir
from core.atomic_file import atomic_open

TRUSTED_FILE = "trusted_code_folders.json"
MAX_CONFIG_BYTES = 4 * 1024 * 1024  # config files are small; tokenizer.json is skipped below
NOT_CONFIGS = ("tokenizer.json",)  # the vocabulary, never read for code


class UntrustedCodeError(ValueError):
    """A model folder that wants to run its own code, and the user has not trusted it."""


def _auto_map_paths(value, path: str = "") -> list[str]:
    """Where `auto_map` occurs in a parsed JSON value (e.g. 'auto_map' or 'processor.auto_map')."""
    found: list[str] = []
    stack = [(value, path)]
    while stack:  # iterative: a hostile, deeply nested file must not blow the stack
        item, where = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{where}.{key}" if where else str(key)
                if key == "auto_map" and child:
                    found.append(child_path)
                elif isinstance(child, (dict, list)):
                    stack.append((child, child_path))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))
    return sorted(found)


def find_custom_code(folder: str | Path) -> list[str]:
    """Each reason the folder would run its own code, as 'FILE: field auto_map (...)'."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        return []
    reasons: list[str] = []
    for config in sorted(folder.glob("*.json")):
        if config.name in NOT_CONFIGS or config.name.endswith(".index.json"):
            continue
        try:
            if config.stat().st_size > MAX_CONFIG_BYTES:
                continue
            parsed = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            continue  # an unreadable config fails the load itself, with its own message
        for field in _auto_map_paths(parsed):
            reasons.append(f"{config}: field {field}")
    for script in sorted([*folder.glob("*.py"), *folder.glob("*/*.py")]):
        reasons.append(f"{script}: Python file in the model folder")
    return reasons


def code_fingerprint(folder: str | Path) -> str:
    """A hash of every file find_custom_code names in `folder` (the config files with
    auto_map and the .py files), so trust covers exactly the code the user saw."""
    folder = Path(folder).expanduser().resolve()
    digest = hashlib.sha256()
    files = sorted({reason.split(": ", 1)[0] for reason in find_custom_code(folder)})
    for name in files:
        path = Path(name)
        digest.update(str(path.relative_to(folder)).encode("utf-8") + b"\0")
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError:
            digest.update(b"unreadable")
    return digest.hexdigest()


def _refuse_too_wide(folder: Path) -> None:
    home = Path.home().resolve()
    if folder == Path(folder.anchor) or folder == home:
        what = "the filesystem root" if folder == Path(folder.anchor) else "your home folder"
        raise ValueError(
            f"{folder} is {what}: trusting it would let every model under it run its own "
            "code. Trust the model's own folder instead."
        )


def _store_path() -> Path:
    return config_dir() / TRUSTED_FILE


def _trusted() -> dict[Path, str]:
    """Trusted folder -> the code fingerprint it was trusted with. Version 1 stored paths
    without one: those ask again once (their code was never recorded)."""
    try:
        raw = json.loads(_store_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    entries = raw.get("folders", []) if isinstance(raw, dict) else []
    return {
        Path(entry["path"]): str(entry.get("code_sha256") or "")
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("path"), str)
    }


def trusted_folders() -> list[Path]:
    return sorted(_trusted())


def _save(trusted: dict[Path, str]) -> None:
    entries = [{"path": str(p), "code_sha256": h} for p, h in sorted(trusted.items())]
    with atomic_open(_store_path()) as handle:
        json.dump({"version": 2, "folders": entries}, handle, indent=2)


def trust_folder(folder: str | Path) -> Path:
    """Allow this folder's own code, as it is now (the user said they trust where it came
    from). Refuses the filesystem root and the home folder (ValueError)."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder; give the model folder to trust.")
    _refuse_too_wide(folder)
    _save({**_trusted(), folder: code_fingerprint(folder)})
    return folder


def untrust_folder(folder: str | Path) -> None:
    folder = Path(folder).expanduser().resolve()
    _save({f: h for f, h in _trusted().items() if f != folder})


def trust_problem(folder: str | Path) -> str | None:
    """Why `folder`'s code is not trusted now: never trusted, or changed since; None if it is."""
    folder = Path(folder).expanduser().resolve()
    recorded = _trusted().get(folder)
    if recorded is None:
        return "not trusted"
    if recorded != code_fingerprint(folder):
        return "its code changed since you trusted it"
    return None


def is_trusted(folder: str | Path) -> bool:
    return trust_problem(folder) is None


def inherit_trust(derived: str | Path, source: str | Path) -> bool:
    """Trust `derived`, a folder we wrote from `source` (a run's final model), when it carries
    custom code and the user trusted `source`: save_pretrained copies the base model's own
    code files and auto_map, and asking again for the user's own run would only teach them
    to trust blindly. Returns whether it did."""
    if not find_custom_code(derived) or not is_trusted(source):
        return False
    trust_folder(derived)
    return True


def trust_remote_code_for(folder: str | Path) -> bool:
    """The `trust_remote_code` value to pass when loading from `folder`; raise if untrusted."""
    reasons = find_custom_code(folder)
    if not reasons:
        return False
    problem = trust_problem(folder)
    if problem is None:
        return True
    more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
    changed = (
        " Its code changed since you trusted it, so it asks again." if "changed" in problem else ""
    )
    raise UntrustedCodeError(
        f"{reasons[0]}{more}: this model folder asks to run its own Python code, and nothing "
        f"was loaded.{changed} If you trust where it came from, allow its code with "
        f"`finetune-studio models trust {Path(folder).expanduser().resolve()}` (or add it on the "
        "Project page and allow remote code); otherwise use a folder without auto_map."
    )
