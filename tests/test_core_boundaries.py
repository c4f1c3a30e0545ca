"""core/ never imports Qt or desktop/, and the heavy ML libraries stay lazy."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import core

REPO_ROOT = Path(__file__).resolve().parent.parent


def _all_core_modules() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.walk_packages(core.__path__, prefix="core.")
        if ".tests" not in info.name
    )


def test_every_core_module_imports_without_qt_or_heavy_libraries():
    modules = _all_core_modules()
    assert "core.project.store" in modules and len(modules) > 5
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'shiboken6', 'pyqtgraph', 'desktop'))\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'peft', 'trl', 'bitsandbytes', 'datasets'))\n"
        "print('QT', bad[:5]); print('HEAVY', heavy[:5])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "QT []" in result.stdout, result.stdout
    assert "HEAVY []" in result.stdout, result.stdout


def test_opening_the_main_window_does_not_import_torch(tmp_path):
    script = (
        "import os, sys\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from desktop.app import build_main_window\n"
        "w = build_main_window(); w.show()\n"
        "from PySide6.QtWidgets import QApplication; QApplication.processEvents()\n"
        "print('TORCH', 'torch' in sys.modules)\n"
    )
    env = {"FINETUNE_STUDIO_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "TORCH False" in result.stdout
