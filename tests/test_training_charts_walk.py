"""The monitor's charts as the walk saw them: a series of one point must be visible."""

from __future__ import annotations

from PySide6.QtGui import QColor

from core.training.curves import SeriesBuffer
from desktop.training.charts import TRAIN_COLOR, LossChart, MetricChart


def colored_pixels(widget, color: str, tolerance: int = 40) -> int:
    image = widget.grab().toImage()
    target = QColor(color)
    count = 0
    for y in range(0, image.height()):
        for x in range(0, image.width()):
            pixel = image.pixelColor(x, y)
            if (
                abs(pixel.red() - target.red())
                + abs(pixel.green() - target.green())
                + abs(pixel.blue() - target.blue())
                < tolerance
            ):
                count += 1
    return count


def test_a_series_of_one_point_is_drawn_and_a_line_needs_no_dots(qtbot):
    chart = MetricChart("Learning rate")
    buffer = SeriesBuffer()
    chart.add_curve(buffer, "#7a5cc8")
    qtbot.addWidget(chart)
    chart.resize(320, 200)
    chart.show()
    buffer.append(1, 2e-4)
    chart.redraw()
    qtbot.wait(10)
    assert colored_pixels(chart, "#7a5cc8") >= 9  # a dot, not nothing
    buffer.append(2, 1e-4)
    chart.redraw()
    assert chart._curves[0][0].opts["symbol"] is None  # two points: the line shows itself


def test_the_loss_chart_shows_its_first_step(qtbot):
    train, valid = SeriesBuffer(), SeriesBuffer()
    chart = LossChart(train, valid)
    qtbot.addWidget(chart)
    chart.resize(400, 240)
    chart.show()
    train.append(1, 2.5)
    chart.redraw()
    qtbot.wait(10)
    assert colored_pixels(chart, TRAIN_COLOR) >= 9
