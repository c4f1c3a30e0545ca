"""How run figures read in the table, the CLI and the timeline: durations, bytes, money, losses."""

from __future__ import annotations

GIB = 1024**3


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 60:
        return f"{minutes:.0f} min"
    hours, rest = divmod(round(minutes), 60)
    return f"{hours} h {rest:02d} min"


def bytes_text(value: int | None) -> str:
    if value is None:
        return "—"
    gib = value / GIB
    return f"{gib:.2f} GiB" if gib < 10 else f"{gib:.1f} GiB"


def money_text(value: float | None) -> str:
    if value is None:
        return "—"
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


def loss_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def when_text(iso: str | None) -> str:
    """'2025-03-14 09:12' from an ISO timestamp (UTC as recorded)."""
    if not iso:
        return ""
    return iso.replace("T", " ")[:16]
