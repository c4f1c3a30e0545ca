"""Loss curves of several runs overlaid on shared axes (pyqtgraph), exportable as PNG or SVG.

One colour per run: training loss as a thin line, validation loss as a thicker line
with markers. Clip-to-view and peak downsampling keep 2,000-point curves cheap.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from core.runs.curves import X_AXES, LossCurves

RUN_COLORS = (
    "#3b6fd8",
    "#e8743b",
    "#3f9f5f",
    "#c2399b",
    "#8c6d31",
    "#17a2b8",
    "#d23f31",
    "#6a51a3",
)
EXPORT_SUFFIXES = (".png", ".svg")


def run_color(position: int) -> str:
    return RUN_COLORS[position % len(RUN_COLORS)]


def _palette(role: QPalette.ColorRole) -> QColor:
    app = QApplication.instance()
    return app.palette().color(role) if app is not None else QColor("white")


class LossChart(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        text = _palette(QPalette.ColorRole.WindowText)
        self.plot.setBackground(_palette(QPalette.ColorRole.Base))
        item = self.plot.getPlotItem()
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setMenuEnabled(False)
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.setPen(text)
            axis.setTextPen(text)
        item.setLabel("left", "loss")
        self.legend = item.addLegend(offset=(-10, 10), labelTextColor=text)
        self.empty_text = pg.TextItem("", color=text, anchor=(0.5, 0.5))
        self.empty_text.setParentItem(item.getViewBox())
        item.getViewBox().sigResized.connect(self._place_empty_text)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.setMinimumHeight(220)
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}  # (run_id, train/validation)
        self.x_axis = "step"

    def set_runs(
        self,
        runs: list[tuple[str, str, LossCurves]],
        x_axis: str,
        show_train: bool = True,
        show_validation: bool = True,
    ) -> None:
        """Draw (run_id, label, curves) for each run, replacing what was drawn."""
        item = self.plot.getPlotItem()
        for curve in self.curves.values():
            item.removeItem(curve)
        self.curves.clear()
        self.legend.clear()
        self.x_axis = x_axis
        item.setLabel("bottom", X_AXES[x_axis].lower())
        drawn = 0
        for position, (run_id, label, curves) in enumerate(runs):
            color = run_color(position)
            if show_train and curves.train.x:
                self.curves[(run_id, "train")] = item.plot(
                    curves.train.x,
                    curves.train.y,
                    pen=pg.mkPen(color, width=1.2),
                    name=f"{label} (train)",
                )
                drawn += 1
            if show_validation and curves.validation.x:
                self.curves[(run_id, "validation")] = item.plot(
                    curves.validation.x,
                    curves.validation.y,
                    pen=pg.mkPen(color, width=2.4, style=Qt.PenStyle.DashLine),
                    symbol="o",
                    symbolSize=6,
                    symbolBrush=color,
                    symbolPen=None,
                    name=f"{label} (validation)",
                )
                drawn += 1
        if not runs:
            message = "Select runs in the table to see their loss curves"
        elif not drawn:
            message = f"No loss recorded by {X_AXES[x_axis].lower()} for these runs yet"
        else:
            message = ""
        self.empty_text.setText(message)
        self.empty_text.setVisible(bool(message))
        item.enableAutoRange()
        self._place_empty_text()

    def _place_empty_text(self, *_args) -> None:
        box = self.plot.getPlotItem().getViewBox()
        rect = box.viewRect()
        self.empty_text.setPos(rect.center())

    def export_image(self, path: str | Path) -> Path:
        """Write the chart as PNG or SVG (by the file's suffix)."""
        # pyqtgraph is heavy: loaded when a chart is first shown
        import pyqtgraph.exporters as exporters

        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in EXPORT_SUFFIXES:
            raise ValueError(f"Export as .png or .svg, not {suffix or 'no suffix'}.")
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed over it, so a failed export leaves no half file.
        partial = path.with_name(f".{path.stem}.partial{suffix}")
        item = self.plot.getPlotItem()
        try:
            if suffix == ".png":
                exporter = exporters.ImageExporter(item)
                exporter.parameters()["width"] = max(800, int(self.plot.width()) * 2)
                exporter.export(str(partial))
            else:
                try:
                    exporters.SVGExporter(item).export(str(partial))
                except ValueError:
                    # pyqtgraph 0.14's SVG exporter cannot parse the path syntax newer Qt
                    # writes (pyqtgraph issue #3485); Qt's own SVG generator draws the same.
                    self._export_svg_with_qt(partial)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return path

    def _export_svg_with_qt(self, path: Path) -> None:
        size = self.plot.size()
        generator = QSvgGenerator()
        generator.setFileName(str(path))
        generator.setSize(QSize(size.width(), size.height()))
        generator.setViewBox(QRect(0, 0, size.width(), size.height()))
        generator.setTitle("Loss curves")
        generator.setDescription("Exported from FineTune Studio's Runs page")
        painter = QPainter(generator)
        try:
            self.plot.render(painter)
        finally:
            painter.end()
