"""Small, dependency-free charts for the analytics page: stacked outcome bars and reason bars (HTML), weekly
rate lines (inline SVG). Every function returns markup; the text it shows is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from itertools import pairwise

ACCEPTED = "#2e7d32"
OVERRIDDEN = "#c62828"
UNANSWERED = "#b0b7bf"


def pct(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "-"


def outcome_bar(accepted: int, overridden: int, unanswered: int, scale: int, width_px: int = 260) -> str:
    """One bar, its length proportional to cards shown (`scale` = the most shown), split by outcome."""
    shown = accepted + overridden + unanswered
    if not shown or not scale:
        return ""
    total = max(1.0, width_px * shown / scale)
    parts = []
    for count, colour, label in ((accepted, ACCEPTED, "accepted"), (overridden, OVERRIDDEN, "overridden"),
                                 (unanswered, UNANSWERED, "no answer")):
        if count:
            parts.append(f'<span class="seg" style="width:{total * count / shown:.1f}px;background:{colour}" '
                         f'title="{label}: {count} of {shown} ({pct(count, shown)})"></span>')
    return f'<span class="bar">{"".join(parts)}</span>'


def reason_bars(reasons: dict[str, int], width_px: int = 180) -> str:
    """Override reasons, most frequent first, each with its count and share of the overrides."""
    total = sum(reasons.values())
    rows = []
    for reason, count in sorted(reasons.items(), key=lambda item: (-item[1], item[0])):
        rows.append(f'<tr><td class="reason">{escape(reason)}</td><td class="num">{count}</td>'
                    f'<td class="num">{pct(count, total)}</td><td><span class="seg" style="width:'
                    f'{max(1.0, width_px * count / total):.1f}px;background:{OVERRIDDEN}"></span></td></tr>')
    return f'<table class="reasons">{"".join(rows)}</table>'


@dataclass(frozen=True)
class WeekPoint:
    week: date  # Monday
    shown: int
    accepted_rate: float | None  # None: not drawn (the topic's cards cannot be accepted)
    override_rate: float


def _label(day: date) -> str:
    return f"{day.day} {day.strftime('%b')}"


def week_chart(points: Sequence[WeekPoint], first: date, last: date, width: int = 300, height: int = 150) -> str:
    """Weekly rates on a shared axis from `first` to `last` (Mondays): 0-100 %, a point per week with enough
    cards, lines only between consecutive weeks (a left-out week is a gap, not a slope)."""
    left, right, top, bottom = 36, 24, 10, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    span = max(1, (last - first).days // 7)

    def x(day: date) -> float:
        return left + plot_w * ((day - first).days // 7) / span if span else left + plot_w / 2

    def y(rate: float) -> float:
        return top + plot_h * (1 - rate)

    out = [f'<svg class="week" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    for rate in (0.0, 0.5, 1.0):
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(rate):.1f}" y2="{y(rate):.1f}" class="grid"/>'
                   f'<text x="{left - 4}" y="{y(rate) + 4:.1f}" class="tick" text-anchor="end">{rate:.0%}</text>')
    ticks = [first, last] if span else [first]
    if span >= 6:
        ticks.insert(1, first + timedelta(weeks=span // 2))
    for day in ticks:
        out.append(f'<text x="{x(day):.1f}" y="{height - 8}" class="tick" text-anchor="middle">{_label(day)}</text>')
    series = [(OVERRIDDEN, "overridden", [(p.week, p.override_rate) for p in points])]
    if any(p.accepted_rate is not None for p in points):
        series.append((ACCEPTED, "accepted", [(p.week, p.accepted_rate) for p in points
                                              if p.accepted_rate is not None]))
    for colour, name, values in series:
        for (d0, r0), (d1, r1) in pairwise(values):
            if (d1 - d0).days == 7:
                out.append(f'<line x1="{x(d0):.1f}" y1="{y(r0):.1f}" x2="{x(d1):.1f}" y2="{y(r1):.1f}" '
                           f'stroke="{colour}" stroke-width="2"/>')
        for day, rate in values:
            out.append(f'<circle cx="{x(day):.1f}" cy="{y(rate):.1f}" r="3" fill="{colour}">'
                       f'<title>week of {day.isoformat()}: {rate:.0%} {name}</title></circle>')
    out.append("</svg>")
    return "".join(out)
