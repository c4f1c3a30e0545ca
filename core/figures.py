"""How figures read everywhere (pages, CLI, reports): durations, money, bytes, hours, losses.

One formatter per kind of figure, so a run's time or cost reads the same on every page.
"""

from __future__ import annotations

import math

GIB = 1024**3


def duration_text(seconds: float | None, rough: bool = False) -> str:
    """The one way a duration reads: '42 s', '3 min 05 s', '2 h 05 min'. `rough`, for
    estimates and plans that are not that precise: '42 s', '12 min', '2.5 h'. Unknown
    (None, NaN, infinite): '—'."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    seconds = max(0, round(seconds))
    if rough:
        if seconds < 90:
            return f"{seconds} s"
        if seconds < 90 * 60:
            return f"{round(seconds / 60)} min"
        return f"{seconds / 3600:.1f} h"
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def bytes_text(value: int | None) -> str:
    if value is None:
        return "—"
    gib = value / GIB
    return f"{gib:.2f} GiB" if gib < 10 else f"{gib:.1f} GiB"


def money_text(value: float | None, rough: bool = False) -> str:
    """The one way an amount of money (US dollars) reads: '$1,234.56', '<$0.01', '$0'.
    `rough`, for estimates whose precision is a guide's range: rounded to what the figure
    can claim ('$1,200', '$350', '$42'). Unknown: '—'."""
    if value is None or not math.isfinite(value):
        return "—"
    if rough:
        if abs(value) >= 1_000:
            value = round(value, -2)
        elif abs(value) >= 100:
            value = round(value, -1)
        return f"${value:,.0f}"
    if value == 0:
        return "$0"
    if abs(value) < 0.01:
        return "<$0.01"
    return f"${value:,.2f}"


def hours_text(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "0"
    if value < 0.01:
        return "<0.01"
    return f"{value:,.2f}"


def count_text(n: int, singular: str, plural: str | None = None) -> str:
    """'1 run', '3 runs', '1,200 examples': a count with its noun in the right number."""
    noun = singular if n == 1 else (plural or f"{singular}s")
    return f"{n:,} {noun}"


def loss_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def when_text(iso: str | None) -> str:
    """'2025-03-14 09:12' from an ISO timestamp (UTC as recorded)."""
    if not iso:
        return ""
    return iso.replace("T", " ")[:16]
