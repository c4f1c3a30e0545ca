"""Two answers as Qt rich text, with the words the second one added or removed highlighted."""

from __future__ import annotations

from html import escape

from core.evaluation.error_analysis import word_diff

# Qt's rich text has no <ins>/<del> styling; spans with inline style render everywhere.
INSERTED_STYLE = "background-color:#c9f2c9; color:#0b3d0b;"
DELETED_STYLE = "background-color:#f8cccc; color:#5c0a0a; text-decoration:line-through;"
PRE_STYLE = "white-space:pre-wrap; font-family:monospace; margin:4px 0 10px 0;"


def plain_html(text: str) -> str:
    """An answer as it was written, whitespace kept."""
    shown = escape(text) if text else "<i>(empty answer)</i>"
    return f'<div style="{PRE_STYLE}">{shown}</div>'


def diff_html(old: str, new: str) -> str:
    """`new`, with what differs from `old` marked: added in green, removed struck in red."""
    pieces = []
    for op, text in word_diff(old, new):
        if op == "equal":
            pieces.append(escape(text))
        elif op == "insert":
            pieces.append(f'<span style="{INSERTED_STYLE}">{escape(text)}</span>')
        else:
            pieces.append(f'<span style="{DELETED_STYLE}">{escape(text)}</span>')
    body = "".join(pieces) or "<i>(both answers empty)</i>"
    return f'<div style="{PRE_STYLE}">{body}</div>'
