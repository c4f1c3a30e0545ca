"""The demo project made on first start, so a new user has something real to look at."""

from __future__ import annotations

from pathlib import Path

from core.app_dirs import default_projects_dir
from core.features import core_parts
from core.project.store import DB_NAME, Project, create_project, open_project

DEMO_NAME = "Demo project"


def demo_project_dir() -> Path:
    return default_projects_dir() / "demo"


def ensure_demo_project() -> Project:
    """Open the demo project, creating and filling it the first time.

    Each landed feature may fill its part through core/<feature>/demo.py's
    `populate(project)`; a feature that is filled already is skipped.
    """
    folder = demo_project_dir()
    if (folder / DB_NAME).is_file():
        project = open_project(folder)
    else:
        project = create_project(folder, name=DEMO_NAME)
        project.set_meta("is_demo", "1")
    for feature, module in core_parts("demo"):
        key = f"demo_populated_{feature}"
        if project.get_meta(key) != "1":
            module.populate(project)
            project.set_meta(key, "1")
    return project
