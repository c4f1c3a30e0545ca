"""Projects: a folder with project.sqlite, datasets/, runs/ and evals/.

The ground floor: it stores and imports nothing above it (repairing a damaged project,
which lists the runs again, is core.runs.rebuild.repair_project).
"""

from core.project.recover import ProjectDatabaseError
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
]
