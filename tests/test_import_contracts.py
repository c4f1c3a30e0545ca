"""The house's layers as a contract: import-linter's contracts (pyproject.toml) hold, and an
import written inside a function says why (a heavy library), never hides a cycle."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "desktop")


def _lint_imports() -> str:
    beside_python = Path(sys.executable).with_name("lint-imports")
    found = str(beside_python) if beside_python.exists() else shutil.which("lint-imports")
    assert found, "lint-imports is missing: install the dev extra (pip install -e '.[dev]')"
    return found


def test_the_import_contracts_hold():
    result = subprocess.run(
        [_lint_imports(), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


_PRAGMA = re.compile(r"#\s*(type:\s*ignore|noqa|pragma)\b[^#]*")


def _says_why(line: str) -> bool:
    """The line holds a comment in words (a `# type: ignore` or `# noqa` alone says nothing)."""
    if "#" not in line:
        return False
    words = _PRAGMA.sub("", line[line.index("#") :]).strip("# \t")
    return bool(words)


def _has_why(lines: list[str], lineno: int) -> bool:
    """A comment on the import's line or on the line just above it."""
    above = lines[lineno - 2].strip() if lineno >= 2 else ""
    return _says_why(lines[lineno - 1]) or (above.startswith("#") and _says_why(above))


def _unexplained_in(path: Path, root: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = []
    explained_ends: set[int] = set()  # a comment above a block of imports explains them all

    def visit(node: ast.AST, in_function: bool, explained: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
            )
            # An optional library probed for in a `try:` is explained on the `try:` line.
            why = explained or (isinstance(child, ast.Try) and _has_why(lines, child.lineno))
            is_import = isinstance(child, (ast.Import, ast.ImportFrom))
            if is_import and (
                why or _has_why(lines, child.lineno) or child.lineno - 1 in explained_ends
            ):
                explained_ends.add(child.end_lineno)
            elif in_function and is_import:
                name = (
                    child.names[0].name
                    if isinstance(child, ast.Import)
                    else "." * child.level + (child.module or "")
                )
                found.append(f"{path.relative_to(root).as_posix()}:{child.lineno} {name}")
            visit(child, inside, why)

    visit(ast.parse(source), False, False)
    return found


def function_level_imports_without_why(root: Path = ROOT) -> list[str]:
    """'path:line module' for every import inside a function with no comment saying why."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            found += _unexplained_in(path, root)
    return found


def test_every_import_inside_a_function_says_why():
    """Imports go at the top of the module; one inside a function is for a heavy library
    (torch, transformers, ...) or a platform module, with a comment saying so. Hiding an
    import cycle this way is what the contracts above forbid."""
    unexplained = function_level_imports_without_why()
    assert unexplained == [], (
        f"{len(unexplained)} import(s) inside functions without a comment saying why; "
        "move them to the top of the module, or say why they must be lazy:\n"
        + "\n".join(unexplained)
    )


def test_the_count_sees_an_unexplained_import(tmp_path):
    """The check itself: a bare import inside a function is found, a commented one is not."""
    package = tmp_path / "core"
    package.mkdir()
    (package / "sample.py").write_text(
        "def hidden():\n"
        "    from core.project import store\n"
        "    return store\n\n\n"
        "def heavy():\n"
        "    import torch  # heavy: loaded when a model is\n"
        "    return torch\n\n\n"
        "def pragma_only():\n"
        "    import yaml  # noqa: F401\n\n\n"
        "def block():\n"
        "    # datasets and trl are heavy: imported once a run starts\n"
        "    from datasets import Dataset\n"
        "    from trl import SFTTrainer\n"
        "    import json\n\n"
        "    import csv\n",
        encoding="utf-8",
    )
    (tmp_path / "desktop").mkdir()
    assert function_level_imports_without_why(tmp_path) == [
        "core/sample.py:2 core.project",
        "core/sample.py:12 yaml",
        "core/sample.py:21 csv",
    ]
