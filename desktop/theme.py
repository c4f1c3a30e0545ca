"""One look in light and dark system themes: Fusion style with a palette that follows the OS."""

from __future__ import annotations

from importlib import resources

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication

ACCENT = "#3b6fd8"

# What a figure or a message means, in one colour each on every page: good (fits, passed,
# better), bad (an error, failed, worse), warning (check this), muted (not measured, a
# side note), active (running now). (light theme, dark theme): the dark ones stay
# readable on a dark window.
GOOD, BAD, WARNING, MUTED, ACTIVE = "good", "bad", "warning", "muted", "active"
STATUS_COLORS = {
    ACTIVE: (ACCENT, "#7aa2ff"),
    GOOD: ("#1a7f37", "#56d364"),
    BAD: ("#c62828", "#ff7b72"),
    WARNING: ("#b26a00", "#e3b341"),
    MUTED: ("#6b6f76", "#9aa0a8"),
}
# A notice banner: (background, border, text) in the light and the dark theme.
NOTICE_COLORS = {
    WARNING: (("#fff4e5", "#e69f00", "#5c3a00"), ("#3a2e14", "#e69f00", "#f2d8a7")),
    BAD: (("#fdecea", "#e06c5f", "#8a1f11"), ("#3d1f1d", "#c0392b", "#ffd2cc")),
    GOOD: (("#eef8f0", "#009e73", "#0b3d0b"), ("#16301f", "#009e73", "#c9f2c9")),
}


def is_dark() -> bool:
    if QGuiApplication.instance() is None:  # HTML built before the app (tests, reports)
        return False
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    return scheme is not None and scheme() == Qt.ColorScheme.Dark


def status_color(kind: str) -> str:
    """The colour of a status (GOOD, BAD, WARNING, MUTED) in the current light or dark theme."""
    light, dark = STATUS_COLORS[kind]
    return dark if is_dark() else light


def severity_color(severity: str) -> str:
    """The colour of a finding's or an advice's severity: error, warning or info."""
    return status_color({"error": BAD, "warning": WARNING}.get(severity, MUTED))


def status_style(kind: str) -> str:
    """A style sheet that colours a label's text by its status."""
    return f"color: {status_color(kind)};"


def notice_colors(kind: str = WARNING) -> tuple[str, str, str]:
    """A notice banner's (background, border, text) in the current light or dark theme."""
    light, dark = NOTICE_COLORS[kind]
    return dark if is_dark() else light


def notice_style(kind: str = WARNING) -> str:
    """A notice banner's style sheet (a tinted box with a bar on the left)."""
    background, border, text = notice_colors(kind)
    return (
        f"background: {background}; color: {text}; border-left: 4px solid {border}; padding: 6px;"
    )


def primary_button_style(selector: str = "QPushButton") -> str:
    """The one main action of a page, in the accent colour."""
    return (
        f"{selector} {{ background: {ACCENT}; color: white; padding: 6px 16px; border-radius: 4px; }}"
        f"{selector}:disabled {{ background: palette(mid); color: palette(window); }}"
    )


def _dark_palette() -> QPalette:
    palette = QPalette()
    colors = {
        QPalette.ColorRole.Window: "#202227",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#17181c",
        QPalette.ColorRole.AlternateBase: "#25272d",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#2b2d33",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.ToolTipBase: "#2b2d33",
        QPalette.ColorRole.ToolTipText: "#e6e6e6",
        QPalette.ColorRole.PlaceholderText: "#8a8d94",
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#7aa2ff",
    }
    for role, color in colors.items():
        palette.setColor(role, QColor(color))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#777"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#777"))
    return palette


def _light_palette() -> QPalette:
    palette = QApplication.style().standardPalette()
    palette.setColor(QPalette.ColorRole.Highlight, QColor(ACCENT))
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    palette.setColor(QPalette.ColorRole.Window, QColor("#f4f5f7"))
    return palette


def app_icon() -> QIcon:
    path = resources.files("resources").joinpath("icons/app.svg")
    return QIcon(str(path))


def apply_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    app.setPalette(_dark_palette() if is_dark() else _light_palette())
    app.setWindowIcon(app_icon())
