"""The run monitor as the walk saw it: the Log tab follows new lines (unless the user
scrolled up), the progress text fits its bar, and a pause draws what the run reported."""

from __future__ import annotations

from core.runs.records import MetricRecord
from core.training.observer import Progress
from desktop.training.monitor import RunMonitor


def make_monitor(qtbot, width=700) -> RunMonitor:
    monitor = RunMonitor()
    qtbot.addWidget(monitor)
    monitor.resize(width, 700)
    monitor.show()
    monitor.tabs.setCurrentWidget(monitor.log_view)
    return monitor


def test_the_log_follows_new_lines_unless_scrolled_up(qtbot):
    monitor = make_monitor(qtbot)
    monitor.tabs.setCurrentIndex(0)  # the Advice tab is in front while the run logs
    bar = monitor.log_view.verticalScrollBar()
    for i in range(300):
        monitor.append_log(f"line {i}")
    monitor.redraw()
    monitor.tabs.setCurrentWidget(monitor.log_view)
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    assert bar.value() == bar.maximum()  # the newest lines, not the first ones
    for i in range(300, 320):
        monitor.append_log(f"line {i}")
    monitor.redraw()
    assert bar.value() == bar.maximum()  # still following
    bar.setValue(0)  # the user reads from the top
    monitor.append_log("line 320")
    monitor.redraw()
    assert bar.value() == 0


def test_the_progress_text_fits_its_bar(qtbot):
    monitor = make_monitor(qtbot, width=500)
    monitor.set_progress(
        Progress(step=1234, max_steps=5000, epoch=2.47, elapsed_s=4000.0, eta_s=9000.0)
    )
    monitor.redraw()
    bar = monitor.progress_bar
    text = bar.format()
    assert "step 1,234 of 5,000" in text and "ETA" in text
    assert bar.fontMetrics().horizontalAdvance(text) < bar.width() - 8
    assert "epoch 2.47" in bar.toolTip()


def test_pausing_draws_what_arrived(qtbot):
    monitor = make_monitor(qtbot)
    monitor.set_controls("running")
    monitor.timer.stop()  # no tick may do the work for the pause
    monitor.add_record(MetricRecord(step=1, loss=2.0, learning_rate=1e-4, grad_norm=1.0))
    monitor.set_controls("paused")
    assert all(chart.point_count() for chart in (monitor.loss_chart, monitor.lr_chart))
