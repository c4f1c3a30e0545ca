"""Where FineTune Studio keeps projects, settings and caches (platformdirs).

FINETUNE_STUDIO_HOME overrides all three with one folder, which is how tests and
portable installs keep the user's real folders untouched.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "FineTuneStudio"
HOME_ENV = "FINETUNE_STUDIO_HOME"


def _home_override() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else None


def _platform_dir(kind: str) -> Path:
    getter = {
        "data": platformdirs.user_data_dir,
        "config": platformdirs.user_config_dir,
        "cache": platformdirs.user_cache_dir,
    }[kind]
    return Path(getter(APP_NAME, appauthor=False))


def _dir(kind: str) -> Path:
    home = _home_override()
    path = home / kind if home else _platform_dir(kind)
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Default parent folder for projects."""
    return _dir("data")


def config_dir() -> Path:
    """Settings and the recent-projects list."""
    return _dir("config")


def cache_dir() -> Path:
    """Converted models and other things that can be rebuilt."""
    return _dir("cache")


def default_projects_dir() -> Path:
    path = data_dir() / "projects"
    path.mkdir(parents=True, exist_ok=True)
    return path
