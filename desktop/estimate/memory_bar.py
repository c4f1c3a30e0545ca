"""A stacked bar of the memory breakdown against the card's capacity, drawn with QPainter.

Each component is a coloured segment (hover for its detail); a dashed line marks the
card's memory, and whatever lies beyond it is drawn over a red band, so "does not fit"
is visible at a glance. A legend with the GiB of each part sits under the bar.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

COLORS = {
    "weights": "#4e79a7",
    "lora": "#f28e2b",
    "gradients": "#e15759",
    "optimizer": "#76b7b2",
    "activations": "#59a14f",
    "logits": "#edc948",
    "workspace": "#ff9da7",
    "allocator": "#9c755f",
    "cuda_context": "#b07aa1",
}
BAR_HEIGHT = 34
LEGEND_ROW = 20
CAPTION_ROW = 20
TOP = CAPTION_ROW + 18  # the caption, then a row for the card's label


@dataclass(frozen=True)
class BarSegment:
    key: str
    title: str
    gib: float
    detail: str


class MemoryBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._segments: list[BarSegment] = []
        self._capacity = 0.0
        self._caption = ""
        self._rects: list[tuple[QRectF, BarSegment]] = []
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.sizeHint().height())
        self.setToolTip("Peak memory per GPU, by part; hover a segment for details")

    def sizeHint(self) -> QSize:
        rows = max(3, self._legend_rows(self.width() - 2)) if self._segments else 3
        return QSize(520, TOP + BAR_HEIGHT + 10 + rows * LEGEND_ROW)

    def set_breakdown(self, segments: list[BarSegment], capacity_gib: float, caption: str) -> None:
        self._segments = [segment for segment in segments if segment.gib > 0.005]
        self._capacity = capacity_gib
        self._caption = caption
        self._fit_height()
        self.update()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def _fit_height(self) -> None:
        # The legend wraps to as many rows as the width needs: with a fixed three rows a
        # narrow column (960 px window) cut off the last parts' names.
        height = self.sizeHint().height()
        if height != self.minimumHeight():
            self.setMinimumHeight(height)
            self.updateGeometry()

    def _legend_items(self, width: float) -> list[tuple[float, int, str, BarSegment]]:
        """(x, row, text, segment) of each legend entry, wrapped to `width`."""
        metrics = QFontMetrics(self.font())
        items, x, row = [], 1.0, 0
        for segment in self._segments:
            text = f"{segment.title} {segment.gib:.1f}"
            item_width = 14 + metrics.horizontalAdvance(text) + 18
            if x + item_width > width and x > 1:
                x, row = 1.0, row + 1
            items.append((x, row, text, segment))
            x += item_width
        return items

    def _legend_rows(self, width: float) -> int:
        items = self._legend_items(width)
        return items[-1][1] + 1 if items else 0

    @property
    def total_gib(self) -> float:
        return sum(segment.gib for segment in self._segments)

    def segments(self) -> list[BarSegment]:
        return list(self._segments)

    # Drawing -----------------------------------------------------------------
    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text_color = palette.color(QPalette.ColorRole.WindowText)
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        width = self.width() - 2
        top = TOP
        total = self.total_gib
        scale_max = max(self._capacity, total, 1e-6) * 1.04
        per_gib = width / scale_max

        painter.setPen(text_color)
        # Elided, not clipped mid-word, when the results column is narrow (960 px window).
        caption = painter.fontMetrics().elidedText(
            self._caption, Qt.TextElideMode.ElideRight, int(width)
        )
        painter.drawText(QRectF(1, 0, width, CAPTION_ROW), Qt.AlignmentFlag.AlignLeft, caption)

        background = QRectF(1, top, self._capacity * per_gib, BAR_HEIGHT)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(background, 4, 4)
        painter.setPen(Qt.PenStyle.NoPen)
        if total > self._capacity:
            overflow = QRectF(
                background.right(), top - 3, (total - self._capacity) * per_gib, BAR_HEIGHT + 6
            )
            painter.setBrush(QColor(225, 87, 89, 60))
            painter.drawRect(overflow)

        self._rects = []
        x = 1.0
        for segment in self._segments:
            rect = QRectF(x, top + 4, max(1.0, segment.gib * per_gib), BAR_HEIGHT - 8)
            painter.setBrush(QColor(COLORS.get(segment.key, "#888888")))
            painter.drawRect(rect)
            self._rects.append((rect, segment))
            x += segment.gib * per_gib

        capacity_x = 1 + self._capacity * per_gib
        pen = QPen(text_color, 2, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawLine(QPointF(capacity_x, top - 4), QPointF(capacity_x, top + BAR_HEIGHT + 4))
        label = f"card: {self._capacity:.1f} GiB"
        metrics = QFontMetrics(self.font())
        label_width = metrics.horizontalAdvance(label)
        label_x = min(max(1.0, capacity_x - label_width - 4), width - label_width)
        painter.setPen(muted)
        painter.drawText(
            QRectF(label_x, CAPTION_ROW, label_width + 2, 16), Qt.AlignmentFlag.AlignRight, label
        )
        self._draw_legend(painter, top + BAR_HEIGHT + 10, width, text_color)
        painter.end()

    def _draw_legend(self, painter: QPainter, top: float, width: float, color: QColor) -> None:
        painter.setFont(QFont(self.font()))
        metrics = QFontMetrics(self.font())
        for x, row, text, segment in self._legend_items(width):
            y = top + row * LEGEND_ROW
            item_width = 14 + metrics.horizontalAdvance(text) + 18
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(COLORS.get(segment.key, "#888888")))
            painter.drawRoundedRect(QRectF(x, y + 4, 10, 10), 2, 2)
            painter.setPen(color)
            painter.drawText(
                QRectF(x + 14, y, item_width, LEGEND_ROW), Qt.AlignmentFlag.AlignLeft, text
            )

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            position = QPointF(event.pos())
            for rect, segment in self._rects:
                if rect.adjusted(0, -4, 0, 4).contains(position):
                    QToolTip.showText(
                        event.globalPos(),
                        f"<b>{segment.title}: {segment.gib:.2f} GiB</b><br>{segment.detail}",
                        self,
                    )
                    return True
        return super().event(event)
