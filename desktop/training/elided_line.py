"""A one-line text field for a long value (GRPO's reward spec): while the user is not
editing it, it shows the value's start, elided at its end ("…"), with the whole value in
its tooltip. A plain QLineEdit showed the tail: the cursor sits after the text set."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QLineEdit, QStyle, QStyleOptionFrame

TEXT_MARGIN = 2  # QLineEdit's own horizontal margin inside its contents rectangle


class ElidedLineEdit(QLineEdit):
    """`help` is the field's tooltip; the full value is added under it."""

    def __init__(self, help_text: str = "", parent=None) -> None:
        super().__init__(parent)
        self.help_text = help_text
        self.textChanged.connect(self._text_changed)
        self._text_changed(self.text())

    def shown_text(self) -> str:
        """What the field shows while not being edited."""
        if self.hasFocus():
            return self.text()
        width = self._text_rect().width()
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, width)

    def _text_rect(self):
        option = QStyleOptionFrame()
        self.initStyleOption(option)
        rect = self.style().subElementRect(QStyle.SubElement.SE_LineEditContents, option, self)
        return rect.adjusted(TEXT_MARGIN, 0, -TEXT_MARGIN, 0)

    def _text_changed(self, text: str) -> None:
        self.setToolTip(f"{self.help_text}\n\n{text}" if text else self.help_text)
        if not self.hasFocus():
            self.setCursorPosition(0)  # the start, should the style draw it itself

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.setCursorPosition(0)

    def paintEvent(self, event) -> None:
        shown = self.shown_text()
        if self.hasFocus() or shown == self.text():
            super().paintEvent(event)
            return
        painter = QPainter(self)
        option = QStyleOptionFrame()
        self.initStyleOption(option)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_PanelLineEdit, option, painter, self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(
            self._text_rect(),
            int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
            shown,
        )
        painter.end()
