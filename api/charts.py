"""Charts drawn on the server as inline SVG: no JavaScript library, readable on a phone and a desktop.

Pure functions from numbers to markup; every label is escaped. The SVGs scale with their container
(``viewBox`` and ``width="100%"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f")


def short(value: float | None) -> str:
    """``950``, ``12.3k``, ``4.56M``, ``7.8B``: axis and bar labels."""
    if value is None:
        return "–"
    size = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            digits = 3 - len(str(int(size / limit)))
            return f"{value / limit:.{max(digits, 0)}f}{suffix}"
    return f"{value:,.0f}"


def bar_chart(
    items: Sequence[tuple[str, float | None]], *, title: str, width: int = 640, none_label: str = "hidden"
) -> str:
    """Horizontal bars in the order given: one row per (label, value); a None value shows ``none_label``."""
    if not items:
        return ""
    row, label_w, pad = 26, min(220, width // 3), 8
    height = row * len(items) + 2 * pad + 18
    top = max((v for _, v in items if v is not None), default=0) or 1
    bar_w = width - label_w - 70
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text x="{pad}" y="14" class="chart-title">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(items):
        y = 18 + pad + i * row
        text = label if len(label) <= 30 else label[:29] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" class="chart-label">{escape(text)}</text>'
        )
        if value is None:
            parts.append(
                f'<text x="{label_w + 4}" y="{y + 16}" class="chart-note">{escape(none_label)}</text>'
            )
            continue
        w = max(1.0, bar_w * max(value, 0) / top)
        color = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" rx="3" fill="{color}"/>'
        )
        parts.append(
            f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" class="chart-value">{escape(short(value))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    series: Sequence[tuple[str, Sequence[tuple[datetime, float | None]]]],
    *,
    title: str,
    width: int = 640,
    height: int = 240,
) -> str:
    """One line per (name, points); x is time, y from the lowest to the highest value shown."""
    values = [v for _, pts in series for _, v in pts if v is not None]
    times = [t.timestamp() for _, pts in series for t, v in pts if v is not None]
    if not values:
        return ""
    left, right, top_pad, bottom = 56, 12, 28, 28
    x0, x1 = min(times), max(times)
    y0, y1 = min(values), max(values)
    if x1 == x0:
        x0, x1 = x0 - 43_200, x1 + 43_200  # a single day: centre it
    if y1 == y0:
        y0, y1 = y0 - max(1.0, abs(y0) * 0.01), y1 + max(1.0, abs(y1) * 0.01)
    plot_w, plot_h = width - left - right, height - top_pad - bottom

    def x(t: float) -> float:
        return left + plot_w * (t - x0) / (x1 - x0)

    def y(v: float) -> float:
        return top_pad + plot_h * (1 - (v - y0) / (y1 - y0))

    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text x="8" y="16" class="chart-title">{escape(title)}</text>',
    ]
    for frac in (0.0, 0.5, 1.0):
        v = y0 + (y1 - y0) * frac
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="chart-grid"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" class="chart-label">{short(v)}</text>'
        )
    for frac, anchor in ((0.0, "start"), (1.0, "end")):
        t = x0 + (x1 - x0) * frac
        day = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")
        parts.append(
            f'<text x="{x(t):.1f}" y="{height - 8}" text-anchor="{anchor}" class="chart-label">{day}</text>'
        )
    for i, (name, points) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        coords = [(x(t.timestamp()), y(v)) for t, v in points if v is not None]
        if not coords:
            continue
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for px, py in coords:
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}"/>')
        parts.append(
            f'<text x="{left + 8 + i * 140}" y="{top_pad - 8}" class="chart-legend" fill="{color}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
