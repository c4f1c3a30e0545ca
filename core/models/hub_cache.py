"""Models already in the Hugging Face cache (~/.cache/huggingface/hub), read from disk only.

The cache folder is worked out from the environment on every call rather than from
huggingface_hub's constants, which freeze it at import time.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

# "org/name" as the Hub spells repo ids: letters, digits, '-', '_', '.'.
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def hub_cache_dir() -> Path:
    """Where huggingface_hub keeps downloads: HF_HUB_CACHE, HF_HOME/hub or ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def looks_like_hub_id(text: str) -> bool:
    """'org/name' that is not a folder on this machine."""
    text = text.strip()
    return bool(HUB_ID.match(text)) and not Path(text).expanduser().exists()


def repo_folder(hub_id: str, cache_dir: Path | None = None) -> Path:
    """The cache's folder for a model repo (models--org--name)."""
    return (cache_dir or hub_cache_dir()) / ("models--" + hub_id.replace("/", "--"))


@dataclass(frozen=True)
class CachedModel:
    hub_id: str
    revision: str  # the commit sha of the snapshot
    path: Path  # the snapshot folder (symlinks into blobs/)
    size_bytes: int  # on disk, this snapshot's files
    refs: tuple[str, ...]  # branch or tag names pointing at it, e.g. ("main",)


def cached_models(cache_dir: Path | None = None) -> list[CachedModel]:
    """One entry per cached model repo that has a config.json: the snapshot 'main' points
    at, else the newest. Config-only snapshots (fetched for the estimator) are left out."""
    # huggingface_hub is heavy: loaded on a hub call only
    from huggingface_hub import CacheNotFound, scan_cache_dir

    folder = cache_dir or hub_cache_dir()
    if not folder.is_dir():
        return []
    try:
        info = scan_cache_dir(folder)
    except CacheNotFound:
        return []
    found = []
    for repo in info.repos:
        if repo.repo_type != "model":
            continue
        revisions = [r for r in repo.revisions if (r.snapshot_path / "config.json").is_file()]
        revisions = [r for r in revisions if _has_weights(r.snapshot_path)]
        if not revisions:
            continue
        revisions.sort(key=lambda r: ("main" in r.refs, r.last_modified), reverse=True)
        best = revisions[0]
        found.append(
            CachedModel(
                repo.repo_id,
                best.commit_hash,
                best.snapshot_path,
                best.size_on_disk,
                tuple(sorted(best.refs)),
            )
        )
    return sorted(found, key=lambda m: m.hub_id.lower())


def _has_weights(folder: Path) -> bool:
    return any(folder.glob("*.safetensors")) or any(folder.glob("*.bin"))


def cached_model(hub_id: str, cache_dir: Path | None = None) -> CachedModel | None:
    for model in cached_models(cache_dir):
        if model.hub_id.lower() == hub_id.lower():
            return model
    return None


def cached_config(hub_id: str, cache_dir: Path | None = None) -> Path | None:
    """config.json of a cached repo (a full download or a config-only fetch), newest first."""
    repo = repo_folder(hub_id, cache_dir)
    ref = repo / "refs" / "main"
    if ref.is_file():
        candidate = repo / "snapshots" / ref.read_text(encoding="utf-8").strip() / "config.json"
        if candidate.is_file():
            return candidate
    snapshots = sorted(
        (repo / "snapshots").glob("*/config.json"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    return snapshots[0] if snapshots else None
