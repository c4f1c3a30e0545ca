"""Projects: a folder with project.sqlite, datasets/, runs/ and evals/."""

from core.project.recover import ProjectDatabaseError, repair_project
from core.project.store import (
    NewerSchemaError,
    NotAProjectError,
    Project,
    create_project,
    open_project,
)

__all__ = [
    "NewerSchemaError",
    "NotAProjectError",
    "Project",
    "ProjectDatabaseError",
    "create_project",
    "open_project",
    "repair_project",
]
