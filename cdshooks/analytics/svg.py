"""A small inline SVG chart (horizontal stacked bars) for self-contained pages: no script, prints as drawn."""

from __future__ import annotations

import html
from collections.abc import Sequence

PALETTE = ("#2e7d32", "#c62828", "#9e9e9e", "#1565c0", "#ef6c00", "#6a1b9a")


def stacked_bars(title: str, rows: Sequence[tuple[str, Sequence[float]]], series: Sequence[str],
                 colors: Sequence[str] = PALETTE, width: int = 760, label_width: int = 300) -> str:
    """One bar per row (label, one value per series), stacked in series order, with a legend and totals."""
    bar_height, gap, top = 18, 6, 44
    height = top + len(rows) * (bar_height + gap) + 10
    largest = max((sum(values) for _, values in rows), default=0) or 1
    room = width - label_width - 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             f"<title>{html.escape(title)}</title>",
             f'<text x="0" y="16" font-size="14" font-weight="bold">{html.escape(title)}</text>']
    x = label_width
    for i, name in enumerate(series):
        parts.append(f'<rect x="{x}" y="24" width="10" height="10" fill="{colors[i % len(colors)]}"/>'
                     f'<text x="{x + 14}" y="33">{html.escape(name)}</text>')
        x += 24 + 7 * len(name)
    for row, (label, values) in enumerate(rows):
        y = top + row * (bar_height + gap)
        shown = label if len(label) <= 44 else label[:43] + "…"
        parts.append(f'<text x="{label_width - 6}" y="{y + 13}" text-anchor="end">{html.escape(shown)}</text>')
        x0 = float(label_width)
        for i, value in enumerate(values):
            if value <= 0:
                continue
            w = room * value / largest
            parts.append(f'<rect x="{x0:.1f}" y="{y}" width="{w:.1f}" height="{bar_height}" '
                         f'fill="{colors[i % len(colors)]}"><title>{html.escape(series[i])}: {value:g}</title></rect>')
            x0 += w
        parts.append(f'<text x="{x0 + 4:.1f}" y="{y + 13}">{sum(values):g}</text>')
    parts.append("</svg>")
    return "".join(parts)
