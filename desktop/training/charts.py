"""The monitor's pyqtgraph charts: the loss chart with advice markers, and small metric charts.

Plot items are created once; `redraw()` (called from the monitor's 10 Hz timer) hands each
curve its buffer's filled part only when the buffer changed. Clip-to-view and peak
downsampling keep a redraw cheap at 100,000 points: pyqtgraph draws at most a few points
per screen pixel, whatever the run length.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from core.runs.records import Advice
from core.training.curves import SeriesBuffer, SmoothedSeries
from desktop.theme import severity_color

# Peak downsampling keeps each pixel column's min and max; pyqtgraph's default factor (5)
# would keep five times more vertices than the eye can tell apart.
DOWNSAMPLE_FACTOR = 1.5
TRAIN_COLOR = "#3b6fd8"
VALID_COLOR = "#e8743b"


def _palette_color(role: QPalette.ColorRole) -> QColor:
    app = QApplication.instance()
    return app.palette().color(role) if app is not None else QColor("white")


class MetricChart(pg.PlotWidget):
    """One or more curves over optimizer steps, each fed by a SeriesBuffer."""

    def __init__(
        self,
        title: str,
        unit: str = "",
        grid: bool = False,
        parent=None,
        step_label: bool = True,
    ) -> None:
        super().__init__(parent=parent)
        text = _palette_color(QPalette.ColorRole.WindowText)
        self.setBackground(_palette_color(QPalette.ColorRole.Base))
        item = self.getPlotItem()
        item.setTitle(title, color=text.name(), size="10pt")
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        if grid:  # grid lines are blended over the whole plot at every repaint: loss chart only
            item.showGrid(x=True, y=True, alpha=0.15)
        item.setMenuEnabled(False)
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.setPen(text)
            axis.setTextPen(text)
        if step_label:
            item.setLabel("bottom", "step")
        else:
            # A small chart: its x axis is the loss chart's (steps); the label's line is
            # better spent on the curve, which is short enough already.
            self.setToolTip(f"{title}, over the run's optimizer steps")
        # Labels on the major ticks only: the minor ones' labels overlapped on a short chart.
        item.getAxis("left").setStyle(maxTextLevel=0)
        if unit:
            item.setLabel("left", unit)
        self.setMinimumHeight(110)
        self._curves: list[tuple[pg.PlotDataItem, SeriesBuffer, list[int]]] = []
        # Curves drawn as lines only: a line through one point draws nothing.
        self._lines: list[tuple[pg.PlotDataItem, SeriesBuffer, object]] = []
        self.empty_text = pg.TextItem("no run yet", color=text, anchor=(0.5, 0.5))
        self.empty_text.setParentItem(item.getViewBox())
        self.empty_text.setPos(0, 0)
        item.getViewBox().sigResized.connect(self._place_empty_text)

    def add_curve(
        self, buffer: SeriesBuffer, color, name: str = "", width: float = 1, **style
    ) -> pg.PlotDataItem:
        # Width-1 cosmetic pens: the raster engine strokes wider lines several times slower.
        curve = self.getPlotItem().plot(
            [], [], pen=pg.mkPen(color, width=width), name=name or None, **style
        )
        # The buffers never hold NaN or inf, so pyqtgraph's own pass over them is not needed.
        curve.setSkipFiniteCheck(True)
        curve.opts["autoDownsampleFactor"] = DOWNSAMPLE_FACTOR
        self._curves.append((curve, buffer, [-1]))
        if "symbol" not in style:
            self._lines.append((curve, buffer, color))
        return curve

    def redraw(self) -> bool:
        """Push changed buffers to their curves; True if anything was redrawn."""
        changed = False
        for curve, buffer, seen in self._curves:
            if seen[0] != buffer.version:
                curve.setData(buffer.x, buffer.y)
                seen[0] = buffer.version
                changed = True
        if changed:
            self.empty_text.setVisible(not any(len(b) for _, b, _ in self._curves))
            for curve, buffer, color in self._lines:
                self._mark_single_point(curve, len(buffer) == 1, color)
        return changed

    @staticmethod
    def _mark_single_point(curve: pg.PlotDataItem, single: bool, color) -> None:
        """A series of one point (the first step, a one-step run) gets a dot to be seen."""
        if single and curve.opts["symbol"] is None:
            curve.setSymbol("o")
            curve.setSymbolSize(6)
            curve.setSymbolBrush(color)
            curve.setSymbolPen(None)
        elif not single and curve.opts["symbol"] is not None:
            curve.setSymbol(None)

    def set_step_range(self, max_steps: int | None) -> None:
        """Fix the x axis to the run's length (None: follow the data).

        A fixed axis shows how far the run has gone, and spares the GUI thread re-laying
        out the axis and its labels on every new step.
        """
        item = self.getPlotItem()
        if max_steps:
            item.enableAutoRange(x=False)
            item.setXRange(0, max_steps, padding=0.02)
        else:
            item.enableAutoRange(x=True)

    def point_count(self) -> int:
        """Points handed to the curves (what a test can check the user would see)."""
        total = 0
        for curve, _, _ in self._curves:
            x, _ = curve.getOriginalDataset()
            total += 0 if x is None else len(x)
        return total

    def set_empty_text(self, text: str) -> None:
        self.empty_text.setText(text)

    def _place_empty_text(self, *_args) -> None:
        box = self.getPlotItem().getViewBox().boundingRect()
        self.empty_text.setPos(box.center())


class LossChart(MetricChart):
    """Training and validation loss, smoothing and log scale, the advisor's markers."""

    def __init__(self, train: SeriesBuffer, valid: SeriesBuffer, parent=None) -> None:
        super().__init__("Loss", grid=True, parent=parent)
        self.train, self.valid = train, valid
        self.smoothed = SmoothedSeries(train, 0.9)
        self.smoothing = False
        faint = QColor(TRAIN_COLOR)
        faint.setAlpha(70)
        self.raw_curve = self.add_curve(train, TRAIN_COLOR, "training")
        self.smooth_curve = self.getPlotItem().plot([], [], pen=pg.mkPen(TRAIN_COLOR, width=2))
        self.smooth_curve.setSkipFiniteCheck(True)
        self.smooth_curve.opts["autoDownsampleFactor"] = DOWNSAMPLE_FACTOR
        self.smooth_curve.hide()
        self._faint_pen = pg.mkPen(faint, width=1)
        self._solid_pen = pg.mkPen(TRAIN_COLOR, width=1)
        self.add_curve(
            valid,
            VALID_COLOR,
            "validation",
            width=1.5,
            symbol="o",
            symbolSize=5,
            symbolBrush=VALID_COLOR,
            symbolPen=None,
        )
        self._smooth_seen = (-1, -1.0)
        self.markers: list[pg.InfiniteLine] = []

    def set_smoothing(self, on: bool, weight: float | None = None) -> None:
        self.smoothing = on
        if weight is not None:
            self.smoothed.set_weight(weight)
        self.raw_curve.setPen(self._faint_pen if on else self._solid_pen)
        self.smooth_curve.setVisible(on)
        self._smooth_seen = (-1, -1.0)
        self.redraw()

    def set_log_scale(self, on: bool) -> None:
        self.getPlotItem().setLogMode(y=on)
        for marker in self.markers:
            marker.label.updatePosition()

    def redraw(self) -> bool:
        changed = super().redraw()
        if self.smoothing:
            key = (self.train.version, self.smoothed.weight)
            if key != self._smooth_seen:
                buffer = self.smoothed.update()
                self.smooth_curve.setData(buffer.x, buffer.y)
                self._smooth_seen = key
                changed = True
        return changed

    def add_marker(self, advice: Advice) -> pg.InfiniteLine:
        """A vertical line at the step the advice refers to, labelled with its title."""
        color = severity_color(advice.severity)
        fill = QColor(color)
        fill.setAlpha(40)
        line = pg.InfiniteLine(
            pos=advice.step,
            angle=90,
            pen=pg.mkPen(color, width=1.5, style=Qt.PenStyle.DashLine),
            label=f"{advice.title} (step {advice.step})",
            labelOpts={
                "position": 0.92 - 0.12 * (len(self.markers) % 4),
                "color": color,
                "fill": fill,
                "movable": False,
            },
        )
        line.setToolTip(advice.message)
        line.setZValue(5)
        self.getPlotItem().addItem(line, ignoreBounds=True)
        self.markers.append(line)
        return line

    def clear_markers(self) -> None:
        for line in self.markers:
            self.getPlotItem().removeItem(line)
        self.markers.clear()
