"""`cdshooks report --html FILE`: a self-contained page with acceptance per topic over time (plotly)."""

from __future__ import annotations

import html
from pathlib import Path

from cdshooks.analytics import by_orderer, by_version, delivery
from cdshooks.analytics.report import Report


def write_html(report: Report, path: Path) -> None:
    import plotly.graph_objects as go  # imported here: only the report needs it

    figure = go.Figure()
    for topic, weeks in sorted(report.weekly_acceptance.items()):
        figure.add_trace(go.Scatter(x=list(weeks), y=[v * 100 for v in weeks.values()], mode="lines+markers",
                                    name=topic))
    figure.update_layout(title="Card acceptance per topic, by week of issue", xaxis_title="week",
                         yaxis_title="accepted (% of cards shown)", yaxis_range=[0, 100], template="plotly_white")
    chart = figure.to_html(full_html=False, include_plotlyjs=True)
    risk = ' class="risk"'
    rows = "".join(
        f"<tr{risk if t.fatigue_risk else ''}><td>{html.escape(t.topic)}</td><td>{t.shown}</td>"
        f"<td>{t.accepted}</td><td>{t.overridden}</td><td>{t.acceptance_rate:.0%}</td><td>{t.override_rate:.0%}</td>"
        f"<td>{html.escape(', '.join(f'{r} ({n})' for r, n in t.override_reasons.items()))}</td>"
        f"<td>{'alert-fatigue risk' if t.fatigue_risk else ''}</td></tr>"
        for t in report.topics)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CDS card analytics</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;
padding:4px 8px}}tr.risk{{background:#fde2e1}}</style></head><body>
<h1>CDS card analytics</h1>
<p>Generated {html.escape(report.generated_at)}{' since ' + html.escape(report.since) if report.since else ''}:
{report.cards_shown} cards shown, {report.feedback_items} feedback items
({report.feedback_unknown_cards} for unknown cards).</p>
{chart}
<table><tr><th>topic</th><th>shown</th><th>accepted</th><th>overridden</th><th>acceptance</th><th>override rate</th>
<th>override reasons</th><th></th></tr>{rows}</table>
{delivery.html_fragment(report.delivery)}
{by_version.html_fragment(report.by_version)}
{by_orderer.html_fragment(report.by_orderer)}
</body></html>
"""
    path.write_text(page, encoding="utf-8")
