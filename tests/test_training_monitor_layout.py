"""The run monitor at the main window's smallest size (960x620): the progress bar's text is
not drawn under the Pause, Resume and Stop buttons, before a run or during one."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect

from core.training.observer import Progress
from desktop.app import build_main_window
from desktop.training.monitor import RunMonitor


def _text_rect(monitor: RunMonitor) -> QRect:
    """Where the bar draws its text (centred), in the monitor's coordinates."""
    bar = monitor.progress_bar
    width = bar.fontMetrics().horizontalAdvance(bar.text())
    centre = bar.mapTo(monitor, QPoint(bar.width() // 2, bar.height() // 2))
    return QRect(centre.x() - width // 2, centre.y() - 1, width, 2)


def _covered_by_a_button(monitor: RunMonitor, text: QRect) -> list[str]:
    buttons = (monitor.pause_button, monitor.resume_button, monitor.stop_button)
    return [
        button.text()
        for button in buttons
        if QRect(button.mapTo(monitor, QPoint(0, 0)), button.size()).intersects(text)
    ]


@pytest.mark.parametrize("running", [False, True], ids=["not started", "training"])
def test_the_progress_text_is_clear_of_the_buttons_at_the_smallest_window(qtbot, project, running):
    # At 960x620 the bar kept room for its longest text beside the buttons, more than the
    # Train page gives the monitor there, and Pause was drawn over "not started".
    window = build_main_window(str(project.folder), first_page="training", remember=False)
    qtbot.addWidget(window)
    window.resize(window.minimumSize())
    window.show()
    qtbot.waitExposed(window)
    assert (window.width(), window.height()) == (960, 620)
    monitor = window.findChild(RunMonitor)
    if running:
        monitor.set_progress(
            Progress(step=1234, max_steps=5000, epoch=2.47, elapsed_s=4000.0, eta_s=9000.0)
        )
        monitor.redraw()
    bar = monitor.progress_bar
    assert bar.text() == ("step 1,234 of 5,000 · ETA 2 h 30 min" if running else "not started")
    qtbot.waitUntil(lambda: bar.width() > 0)

    text = _text_rect(monitor)
    assert bar.fontMetrics().horizontalAdvance(bar.text()) < bar.width() - 8
    assert monitor.rect().contains(text)  # not beyond the monitor's edge
    assert _covered_by_a_button(monitor, text) == []
    window.close()
