"""Qt objects in reference cycles are freed on the GUI thread, never by a gc.collect() a
worker thread makes (a training run's accelerate.free_memory does): that segfaulted the
Train page's tests (desktop/gui_garbage.py)."""

import gc
import threading

from PySide6.QtCore import QObject

from desktop.background import BackgroundTask


class Cycle:
    """A Qt object held only by a reference cycle, as a closed page's widgets are."""

    def __init__(self, freed: list) -> None:
        self.me = self
        self.qt = QObject()
        self.freed = freed

    def __del__(self) -> None:
        self.freed.append(threading.get_ident())


def test_a_workers_gc_collect_leaves_qt_garbage_to_the_gui_thread(qtbot):
    go = threading.Event()
    freed: list[int] = []

    def work(report, cancelled):
        assert go.wait(10)
        gc.collect()  # as accelerate's release_memory does at a run's start
        return threading.get_ident()

    task = BackgroundTask(work)
    task.start()  # garbage made from here on is the kind a worker's gc.collect() found
    Cycle(freed)
    with qtbot.waitSignal(task.succeeded, timeout=10_000) as blocker:
        go.set()
    worker = blocker.args[0]
    qtbot.waitUntil(lambda: bool(freed), timeout=10_000)  # the GUI thread's next check
    assert freed == [threading.get_ident()] and worker != threading.get_ident()
    qtbot.waitUntil(lambda: not task.is_running(), timeout=5_000)
    # With no task left, collection is the interpreter's again (tests and the CLI's work
    # without threads would otherwise keep their garbage until a GUI timer ran).
    qtbot.waitUntil(gc.isenabled, timeout=5_000)
    assert gc.get_freeze_count() == 0


def test_the_monitors_hidden_charts_belong_to_it(qtbot):
    """A DPO or GRPO chart hidden out of the grid had no parent, so a closed Train page left
    it (and its pyqtgraph scene) alive in reference cycles for any thread's collection."""
    from desktop.training.monitor import RunMonitor

    monitor = RunMonitor()
    qtbot.addWidget(monitor)
    orphans = [c.getPlotItem().titleLabel.text for c in monitor.small_charts]
    orphans = [t for c, t in zip(monitor.small_charts, orphans) if not monitor.isAncestorOf(c)]
    assert orphans == []
