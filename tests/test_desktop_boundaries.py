"""desktop/ is the Qt adapter: a module there that uses no Qt is logic that belongs in core/.

Each module under desktop/ is parsed (never imported) and must import PySide6, shiboken6 or
pyqtgraph, directly or through another desktop module that does. Imports inside functions
count, since a lazily built widget is still a widget.
"""

from __future__ import annotations

import ast
from pathlib import Path

DESKTOP = Path(__file__).resolve().parent.parent / "desktop"
QT_PACKAGES = {"PySide6", "shiboken6", "pyqtgraph"}

# Modules that may stay Qt-free, and why. Keep this short: a new entry needs a reason.
ALLOWED_WITHOUT_QT = {
    # Rich text in Qt's HTML subset (inline styles, no <ins>/<del>) for QLabel and
    # QTextBrowser: the view itself; the numbers and diffs it shows come from core.
    "desktop.evaluation.answer_diff",
    # Finds and builds the desktop pages: it imports desktop.<name>.page by name, so the
    # parse cannot see the Qt behind it.
    "desktop.pages",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(DESKTOP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.Module) -> set[str]:
    """Every module name an import statement names, and `package.name` for from-imports."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _has_code(tree: ast.Module) -> bool:
    """False for a package marker: only a docstring and `from __future__` imports."""
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        return True
    return False


def qt_free_desktop_modules() -> list[str]:
    modules: dict[str, set[str]] = {}
    for path in sorted(DESKTOP.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        if _has_code(tree):
            modules[_module_name(path)] = _imports(tree)
    using_qt = {
        name
        for name, imports in modules.items()
        if any(imported.split(".")[0] in QT_PACKAGES for imported in imports)
    }
    # A module that builds on a Qt module of ours is part of the adapter too.
    grew = True
    while grew:
        before = len(using_qt)
        using_qt |= {name for name, imports in modules.items() if imports & using_qt}
        grew = len(using_qt) > before
    return sorted(name for name in modules if name not in using_qt)


def test_every_desktop_module_uses_qt():
    stray = [name for name in qt_free_desktop_modules() if name not in ALLOWED_WITHOUT_QT]
    assert not stray, f"Qt-free modules under desktop/ (move them to core/): {', '.join(stray)}"


def test_the_allow_list_names_only_qt_free_modules():
    # An entry that starts using Qt, or is moved away, should leave the list.
    stale = sorted(ALLOWED_WITHOUT_QT - set(qt_free_desktop_modules()))
    assert not stale, f"Remove from ALLOWED_WITHOUT_QT: {', '.join(stale)}"
