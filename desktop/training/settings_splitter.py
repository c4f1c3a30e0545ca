"""The Train page's left column body: the settings form above, the estimate and the run
plan below, a drag apart.

The lower part is as tall as its content, up to BELOW_SHARE of the height (beyond that it
scrolls), so the form keeps the rest for editing while the estimate stays in view; a plan
that grows or shrinks moves the split with it. Once the user drags the handle, their
split stays.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QScrollArea, QSplitter, QVBoxLayout, QWidget

BELOW_SHARE = 0.45  # the most of the column's height the estimate and plan take at first
FORM_MIN_HEIGHT = 120  # a few fields stay visible however small the window


def _scrolling(widget: QWidget) -> QScrollArea:
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(widget)
    return scroll


class SettingsSplitter(QSplitter):
    def __init__(self, form: QWidget, below: list[QWidget]) -> None:
        super().__init__(Qt.Orientation.Vertical)
        self.setObjectName("settingsSplitter")
        self.setChildrenCollapsible(False)
        self.form_scroll = _scrolling(form)
        self.form_scroll.setMinimumHeight(FORM_MIN_HEIGHT)
        self.below = QWidget()
        column = QVBoxLayout(self.below)
        column.setContentsMargins(0, 0, 0, 0)
        for widget in below:
            column.addWidget(widget)
        column.addStretch(1)
        self.addWidget(self.form_scroll)
        self.addWidget(_scrolling(self.below))
        self.setStretchFactor(0, 1)
        self.setStretchFactor(1, 0)
        self.dragged = False
        self.splitterMoved.connect(self._dragged)  # only a drag emits it, not setSizes
        self._fit_soon = QTimer(self)
        self._fit_soon.setSingleShot(True)
        self._fit_soon.setInterval(0)
        self._fit_soon.timeout.connect(self.fit)
        self.below.installEventFilter(self)

    def _dragged(self, *_args) -> None:
        self.dragged = True

    def fit(self) -> None:
        """The lower part as tall as its content, up to BELOW_SHARE of the height."""
        total = sum(self.sizes())
        if self.dragged or total <= 0:
            return
        wanted = min(self.below.sizeHint().height(), int(total * BELOW_SHARE))
        self.setSizes([total - wanted, wanted])

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.below and event.type() == QEvent.Type.LayoutRequest:
            self._fit_soon.start()  # the estimate or the plan changed its size
        return super().eventFilter(watched, event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit()
