"""Test set-up: offscreen Qt, no network, a private app home, and the tiny model fixture."""

from __future__ import annotations

import os
import sys
import weakref
from pathlib import Path

import pytest

# Before anything imports Qt or transformers.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_DISABLED", "true")

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("FINETUNE_STUDIO_MODEL_CACHE", str(REPO_ROOT / ".test-cache" / "models"))


@pytest.fixture(autouse=True)
def studio_home(tmp_path, monkeypatch):
    """Every test gets its own projects, settings and cache folders.

    The converted bundled model is the one exception: FINETUNE_STUDIO_MODEL_CACHE
    (set above) shares it, so it is converted once per machine.
    """
    home = tmp_path / "studio-home"
    monkeypatch.setenv("FINETUNE_STUDIO_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A ~100k-parameter random Llama chat model with its tokenizer, built once per session."""
    from core.models.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
def one_torch_thread():
    """The tiny model's matrices are too small to split: one thread is faster, and immune to
    the oversubscription of a shared 2-core CI machine. Modules that train the tiny model
    use it: pytestmark = pytest.mark.usefixtures("one_torch_thread")."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def project(tmp_path):
    from core.project import create_project

    proj = create_project(tmp_path / "project", name="Test project")
    yield proj
    proj.close()


_started_threads: weakref.WeakSet | None = None


def _track_started_qthreads() -> weakref.WeakSet:
    """Record every QThread started from Python, parented or not (napari patches start too).

    A parentless QThread (BackgroundTask makes one) is invisible to findChildren, so a
    check that only walks the object tree misses exactly the threads most likely to leak.
    """
    global _started_threads
    if _started_threads is None:
        from PySide6.QtCore import QThread

        _started_threads = weakref.WeakSet()
        original_start = QThread.start

        def start(thread, *args, **kwargs):
            _started_threads.add(thread)
            return original_start(thread, *args, **kwargs)

        QThread.start = start
    return _started_threads


@pytest.fixture(autouse=True)
def no_thread_left_running(request):
    """Fail a Qt test that leaves a QThread running, with or without a parent."""
    started = _track_started_qthreads() if "qtbot" in request.fixturenames else None
    yield
    if started is None:
        return
    import shiboken6
    from PySide6.QtCore import QThread
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        return
    candidates = list(started) + app.findChildren(QThread)
    for widget in QApplication.topLevelWidgets():
        candidates += widget.findChildren(QThread)
    running = {
        id(thread): thread
        for thread in candidates
        if shiboken6.isValid(thread) and thread.isRunning()
    }
    assert not running, f"QThreads still running after the test: {list(running.values())}"
