"""The mouse wheel scrolls the page, not the setting under the pointer.

Combo boxes, spin boxes and sliders take the wheel only once focused (clicked or tabbed
into); an unfocused one passes it to the scroll area around it. One event filter on the
application does this for every form, so a new page gets it without asking.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QScrollBar,
    QWidget,
)

_WHEEL = QEvent.Type.Wheel
_POLISH = QEvent.Type.Polish


def _guarded(widget: QObject) -> bool:
    """A control whose value the wheel changes (a scroll bar is meant to scroll)."""
    return isinstance(widget, (QComboBox, QAbstractSpinBox, QAbstractSlider)) and not isinstance(
        widget, QScrollBar
    )


def _no_wheel_focus(widget: QWidget) -> None:
    # With Qt.WheelFocus, Qt focuses the control under the wheel before any filter sees
    # the event, so the first scroll would change it anyway.
    if widget.focusPolicy() == Qt.FocusPolicy.WheelFocus:
        widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)


class WheelGuard(QObject):
    """An application event filter: see the module docstring."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()  # every event of the app passes here: test the cheap thing first
        if kind == _WHEEL:
            if not _guarded(watched) or watched.hasFocus():
                return False
            area = _scroll_area_around(watched)
            if area is None:
                event.ignore()  # Qt offers an ignored wheel event to the parent widgets
                return True
            QApplication.sendEvent(area.viewport(), event)
            event.accept()
            return True
        if kind == _POLISH and _guarded(watched):
            _no_wheel_focus(watched)
        return False


def _scroll_area_around(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return parent
        parent = parent.parentWidget()
    return None


def install_wheel_guard(app: QApplication) -> WheelGuard:
    """Install the guard on the application once; controls that exist already are covered."""
    guard = app.findChild(WheelGuard, "wheelGuard")
    if guard is not None:
        return guard
    guard = WheelGuard(app)
    guard.setObjectName("wheelGuard")
    app.installEventFilter(guard)
    for widget in app.allWidgets():
        if _guarded(widget):
            _no_wheel_focus(widget)
    return guard
