"""The run's steps know the session only by the SessionState Protocol: no module of
core.training but the session's callers imports session.py, not even for a type, and the
one TrainingSession has everything the Protocol promises the steps."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from core.training import session_state
from core.training.session import TrainingSession
from core.training.session_state import SessionState

TRAINING = Path(session_state.__file__).resolve().parent
# Above the session: they start runs. Everything else in core.training is below it.
CALLERS = {"session.py", "cli.py", "__init__.py"}


def _imported_modules(path: Path) -> set[str]:
    """Every module the file imports, TYPE_CHECKING blocks and function bodies included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_step_module_imports_the_session():
    importers = [
        path.relative_to(TRAINING).as_posix()
        for path in sorted(TRAINING.rglob("*.py"))
        if path.name not in CALLERS or path.parent != TRAINING
        if "core.training.session" in _imported_modules(path)
    ]
    assert importers == [], f"name SessionState instead of TrainingSession in {importers}"


def test_the_session_has_all_the_protocol_promises(project):
    session = TrainingSession(project, resume_run="some-run")
    promised = {
        name
        for name in (*SessionState.__annotations__, *vars(SessionState))
        if not name.startswith("_")
    }
    missing = sorted(name for name in promised if not hasattr(session, name))
    assert missing == []
    for name in ("report_status", "log", "check_stop", "close_memory_guard"):
        ours = inspect.signature(getattr(TrainingSession, name))
        theirs = inspect.signature(getattr(SessionState, name))
        assert list(ours.parameters) == list(theirs.parameters), name
