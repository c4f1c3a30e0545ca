"""Small charts as inline SVG text, so a report is one self-contained HTML file.

Grouped bars with confidence-interval whiskers for rates, and a stacked bar for A/B
win/tie/loss shares. No plotting library: the report must open anywhere, offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

# Colour-blind-safe (Okabe-Ito) series colours; the baseline is always grey.
PALETTE = ("#999999", "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
TIE_COLOUR = "#DDDDDD"


def _text(x: float, y: float, text: str, size: int = 12, anchor: str = "middle", **extra) -> str:
    attributes = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in extra.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'font-family="sans-serif"{attributes}>{escape(text)}</text>'
    )


def grouped_bars(
    groups: Sequence[str],
    series: Sequence[tuple[str, Sequence[tuple[float, float, float] | None]]],
    title: str,
    y_max: float | None = 1.0,
    percent: bool = True,
    width: int = 720,
    height: int = 300,
) -> str:
    """Bars per group (a metric) and series (a model), each (value, low, high) or None.

    None draws "n/a" instead of a bar. `y_max` None scales to the largest value.
    """
    left, right, top, bottom = 56, 16, 36, 70
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, vs in series for v in vs if v is not None]
    if y_max is None:
        y_max = max([max(v[0], v[2]) for v in values] + [1e-9]) * 1.15
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        _text(width / 2, 20, title, 14, font_weight="bold"),
    ]
    for tick in range(5):
        fraction = tick / 4
        y = top + plot_h * (1 - fraction)
        label = f"{fraction * y_max:.0%}" if percent else f"{fraction * y_max:.3g}"
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e5e5e5"/>'
        )
        parts.append(_text(left - 6, y + 4, label, 11, "end"))
    group_w = plot_w / max(len(groups), 1)
    bar_w = min(48.0, group_w * 0.8 / max(len(series), 1))
    for g, group in enumerate(groups):
        start = left + g * group_w + (group_w - bar_w * len(series)) / 2
        parts.append(_text(left + (g + 0.5) * group_w, top + plot_h + 18, group, 12))
        for s, (_, series_values) in enumerate(series):
            x = start + s * bar_w
            entry = series_values[g] if g < len(series_values) else None
            if entry is None:
                parts.append(_text(x + bar_w / 2, top + plot_h - 4, "n/a", 10, fill="#777"))
                continue
            value, low, high = entry

            def y_of(v: float) -> float:
                return top + plot_h * (1 - min(max(v / y_max, 0.0), 1.0))

            parts.append(
                f'<rect x="{x + 2:.1f}" y="{y_of(value):.1f}" width="{bar_w - 4:.1f}" '
                f'height="{top + plot_h - y_of(value):.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                f"<title>{escape(series[s][0])}: {value:.3g}</title></rect>"
            )
            centre = x + bar_w / 2
            parts.append(
                f'<path d="M{centre:.1f},{y_of(low):.1f} V{y_of(high):.1f} '
                f'M{centre - 5:.1f},{y_of(low):.1f} h10 M{centre - 5:.1f},{y_of(high):.1f} h10" '
                'stroke="#222" stroke-width="1.2" fill="none"/>'
            )
    legend_y = height - 18
    x = left
    for s, (label, _) in enumerate(series):
        parts.append(
            f'<rect x="{x}" y="{legend_y - 10}" width="12" height="12" '
            f'fill="{PALETTE[s % len(PALETTE)]}"/>'
        )
        parts.append(_text(x + 16, legend_y, label, 12, "start"))
        x += 28 + 7 * len(label)
    parts.append("</svg>")
    return "".join(parts)


def win_tie_loss_bar(
    label_a: str, label_b: str, wins_a: int, ties: int, wins_b: int, width: int = 720
) -> str:
    """One horizontal bar split into A's wins, ties and B's wins, with counts."""
    total = wins_a + ties + wins_b
    height, left, bar_h = 86, 10, 28
    plot_w = width - 2 * left
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="A/B wins">'
    ]
    if total == 0:
        parts.append(_text(width / 2, 40, "No ratings yet", 13, fill="#777"))
        parts.append("</svg>")
        return "".join(parts)
    x = float(left)
    for count, colour, label in (
        (wins_a, PALETTE[0], f"{label_a} better"),
        (ties, TIE_COLOUR, "tie"),
        (wins_b, PALETTE[1], f"{label_b} better"),
    ):
        w = plot_w * count / total
        if w > 0:
            parts.append(
                f'<rect x="{x:.1f}" y="10" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                f"<title>{escape(label)}: {count}</title></rect>"
            )
            if w > 30:
                parts.append(_text(x + w / 2, 29, f"{count / total:.0%}", 12, fill="#000"))
        x += w
    parts.append(_text(left, 60, f"{label_a} better: {wins_a}", 12, "start"))
    parts.append(_text(width / 2, 60, f"tie: {ties}", 12))
    parts.append(_text(width - left, 60, f"{label_b} better: {wins_b}", 12, "end"))
    parts.append("</svg>")
    return "".join(parts)
