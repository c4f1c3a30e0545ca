"""How long dataset work reports progress and learns it was cancelled.

Functions that may run long take `progress(fraction, message)` and `cancelled() -> bool`,
the same pair desktop/background.py's BackgroundTask passes, and raise Cancelled.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[float, str], None]
IsCancelled = Callable[[], bool]


class Cancelled(Exception):
    """The user cancelled; nothing was written."""


def no_progress(fraction: float, message: str) -> None:
    """A Progress that ignores reports."""


def never_cancelled() -> bool:
    return False


def check(cancelled: IsCancelled | None) -> None:
    """Raise Cancelled if the user asked to stop."""
    if cancelled is not None and cancelled():
        raise Cancelled()
