"""The analytics page (`cdshooks report --html FILE`, `GET /analytics?format=html`): self-contained HTML, no
script, for a clinical lead deciding which card to fix or retire.

The page is a list of sections, each a function of the report (`SECTIONS`); a further view (per orderer, per
site, per knowledge version) is one more function appended there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from html import escape
from pathlib import Path

from cdshooks.analytics import by_orderer, by_version, delivery
from cdshooks.analytics.categories import categories_html
from cdshooks.analytics.charts import (
    ACCEPTED,
    OVERRIDDEN,
    UNANSWERED,
    WeekPoint,
    outcome_bar,
    pct,
    reason_bars,
    week_chart,
)
from cdshooks.analytics.report import Report, TopicStats, format_duration

Section = Callable[[Report], str]

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:2rem;color:#1d2329;
max-width:1200px}
h1{font-size:1.6rem;margin:0 0 .3rem}h2{font-size:1.2rem;margin:2rem 0 .4rem;border-bottom:1px solid #dde2e7;
padding-bottom:.2rem}p{margin:.3rem 0 .6rem;line-height:1.4}.muted{color:#5b6670}
table.topics{border-collapse:collapse;width:100%}table.topics th,table.topics td{padding:5px 8px;
border-bottom:1px solid #e6e9ec;text-align:left;vertical-align:middle}table.topics th{font-size:.85rem;
color:#5b6670;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.topic{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9rem;white-space:nowrap}
td.flagcell{white-space:nowrap}td.nosugg{font-size:.85rem;color:#5b6670;max-width:150px}
.bar{display:inline-flex;height:14px;vertical-align:middle}.seg{display:inline-block;height:14px}
.flag{display:inline-block;padding:1px 6px;border-radius:3px;font-size:.8rem;background:#fde2e1;color:#8e1b1b}
.note{font-size:.85rem;color:#5b6670}.key span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;
vertical-align:middle}
.grid2{display:flex;flex-wrap:wrap;gap:1rem 2rem}.cell{min-width:300px}.cell h3{font-size:.95rem;margin:.2rem 0;
font-family:ui-monospace,Menlo,Consolas,monospace;font-weight:600}
table.reasons td{padding:2px 6px;font-size:.9rem}td.reason{max-width:260px}
svg.week .grid{stroke:#e3e7ea}svg.week .tick{font-size:10px;fill:#5b6670}
section table{border-collapse:collapse;margin:.4rem 0 1rem}section th,section td{padding:4px 8px;
border-bottom:1px solid #e6e9ec;text-align:left}section th{font-size:.85rem;color:#5b6670}
section details{margin:.3rem 0}
"""


def _sub(report: Report) -> str:
    period = (f"Cards issued {escape(report.first_issued[:10])} to {escape(report.last_issued[:10])}"
              if report.first_issued and report.last_issued else "No cards issued")
    since = f" (since {escape(report.since[:10])})" if report.since else ""
    return (f'<p class="muted">{period}{since}; generated {escape(report.generated_at)}. A card counts by its '
            "latest feedback; rates are over cards shown.</p>")


def summary_section(report: Report) -> str:
    if not report.cards_shown:
        since = f" since {escape(report.since[:10])}" if report.since else ""
        return (f"<p><strong>No cards issued yet{since}.</strong> This page fills in once the service has answered "
                "hook calls: per card topic, how often its cards were shown, accepted and overridden, the override "
                "reasons clinicians gave, and weekly trends where there are enough cards.</p>"
                + (f"<p>{report.feedback_items} feedback items received, {report.feedback_unknown_cards} of them "
                   "for cards this store does not know.</p>" if report.feedback_items else ""))
    accepted = sum(t.accepted for t in report.topics)
    overridden = sum(t.overridden for t in report.topics)
    unanswered = sum(t.unanswered for t in report.topics)
    shown = report.cards_shown
    flagged = [t.topic for t in report.topics if t.fatigue_risk]
    risk = (f' <span class="flag">alert-fatigue risk</span> {len(flagged)} topic(s): '
            f'{escape(", ".join(flagged))}.' if flagged else "")
    return (f"<p><strong>{shown}</strong> cards shown in {len(report.topics)} topics: {accepted} accepted "
            f"({pct(accepted, shown)}), {overridden} overridden ({pct(overridden, shown)}), {unanswered} without "
            f"an answer ({pct(unanswered, shown)}). {report.feedback_items} feedback items, "
            f"{report.feedback_unknown_cards} for cards this store does not know.{risk}</p>")


def _flag(t: TopicStats, report: Report) -> str:
    rule = report.fatigue_rule
    if t.fatigue_risk:
        return (f'<span class="flag" title="overridden {t.override_rate:.0%} of {t.shown} shown; flagged from '
                f'{rule.get("threshold", 0.5):.0%} once shown {rule.get("min_shown", 10):.0f} times">'
                "alert-fatigue risk</span>")
    if t.shown < rule.get("min_shown", 10):
        return '<span class="note">too few to judge</span>'
    return ""


def topics_section(report: Report) -> str:
    if not report.topics:
        return ""
    scale = max(t.shown for t in report.topics)
    threshold, min_shown = report.fatigue_rule.get("threshold", 0.5), report.fatigue_rule.get("min_shown", 10)
    rows = []
    for t in report.topics:
        if t.acceptance_rate is None:
            accepted = '<td colspan="2" class="nosugg">cannot be accepted: no suggestion</td>'
        else:
            accepted = f'<td class="num">{t.accepted}</td><td class="num">{t.acceptance_rate:.0%}</td>'
        rows.append(
            f'<tr><td class="topic">{escape(t.topic)}</td><td class="num">{t.shown}</td>'
            f"<td>{outcome_bar(t.accepted, t.overridden, t.unanswered, scale, 200)}</td>{accepted}"
            f'<td class="num">{t.overridden}</td><td class="num">{t.override_rate:.0%}</td>'
            f'<td class="num">{t.unanswered}</td>'
            f'<td class="num">{format_duration(t.median_seconds_to_feedback)}</td>'
            f'<td class="flagcell">{_flag(t, report)}</td></tr>')
    key = (f'<p class="key note">Bar length: cards shown; <span style="background:{ACCEPTED}"></span>accepted'
           f'<span style="background:{OVERRIDDEN}"></span>overridden<span style="background:{UNANSWERED}"></span>'
           "no answer. Most overridden topics first. Median time to answer: from the card being issued to its "
           f"first feedback, over answered cards. Alert-fatigue risk: overridden at {threshold:.0%} or more once "
           f"shown {min_shown:.0f} times; below that, too few to judge.</p>")
    return (f"<h2>Cards by topic</h2>{key}<table class=\"topics\"><thead><tr><th>topic</th>"
            '<th class="num">shown</th><th>outcome</th><th class="num">accepted</th><th class="num">rate</th>'
            '<th class="num">overridden</th><th class="num">rate</th><th class="num">no answer</th>'
            '<th class="num">median answer time</th><th>flag</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def reasons_section(report: Report) -> str:
    overridden = [t for t in report.topics if t.overridden]
    if not overridden:
        return "<h2>Why cards are overridden</h2><p class=\"muted\">No card has been overridden.</p>" \
            if report.topics else ""
    cells = "".join(
        f'<div class="cell"><h3>{escape(t.topic)}</h3><p class="note">{t.overridden} overrides of {t.shown} '
        f"cards shown</p>{reason_bars(t.override_reasons)}</div>" for t in overridden)
    return ("<h2>Why cards are overridden</h2><p class=\"muted\">The reasons clinicians chose when overriding, per "
            f"topic (most overridden first).</p><div class=\"grid2\">{cells}</div>")


def trend_section(report: Report) -> str:
    if not report.topics:
        return ""
    rule = report.trend_rule
    why = (f"a topic gets a weekly trend once it has at least {rule['min_weeks']} weeks with at least "
           f"{rule['min_cards_per_week']} cards each (design defaults: a rate over fewer cards swings too far "
           "to read as a change); weeks with fewer cards are left out (gaps in the lines)")
    if not report.trend_topics:
        return f"<h2>Trend by week</h2><p class=\"muted\">Not enough data for a trend yet: {why}.</p>"
    weeks = {t: report.trend_weeks(t) for t in report.trend_topics}
    first = min(date.fromisoformat(w[0].week) for w in weeks.values())
    last = max(date.fromisoformat(w[-1].week) for w in weeks.values())
    acceptable = {t.topic: t.acceptance_rate is not None for t in report.topics}
    cells = []
    for topic, rows in weeks.items():
        points = [WeekPoint(date.fromisoformat(w.week), w.shown,
                            w.accepted / w.shown if acceptable.get(topic) else None, w.overridden / w.shown)
                  for w in rows]
        counts = [w.shown for w in rows]
        note = "" if acceptable.get(topic) else "; cannot be accepted (no suggestion): overrides only"
        cells.append(f'<div class="cell"><h3>{escape(topic)}</h3><p class="note">{len(rows)} weeks, '
                     f"{min(counts)}-{max(counts)} cards a week{note}</p>{week_chart(points, first, last)}</div>")
    others = sorted(set(report.weeks) - set(report.trend_topics))
    rest = (f"<p class=\"muted\">No trend for {len(others)} other topic(s): {escape(', '.join(others))}.</p>"
            if others else "")
    key = (f'<p class="key note">Share of the week\'s cards <span style="background:{OVERRIDDEN}"></span>'
           f'overridden<span style="background:{ACCEPTED}"></span>accepted, by week of issue (weeks start on '
           "Monday). Same axes in every chart.</p>")
    return (f"<h2>Trend by week</h2><p class=\"muted\">{why[0].upper() + why[1:]}.</p>{key}"
            f"<div class=\"grid2\">{''.join(cells)}</div>{rest}")


def governance_sections(report: Report) -> str:
    """Issue 14: live / silent / suppressed per topic, per knowledge version, per orderer and site."""
    return (delivery.html_fragment(report.delivery) + by_version.html_fragment(report.by_version)
            + by_orderer.html_fragment(report.by_orderer))


def categories_section(report: Report) -> str:
    return categories_html(report.override_categories)


SECTIONS: list[Section] = [summary_section, topics_section, reasons_section, categories_section, trend_section,
                           governance_sections]


def render_html(report: Report, sections: Sequence[Section] = SECTIONS) -> str:
    body = "".join(section(report) for section in sections)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>CDS card analytics</title>'
            f"<style>{STYLE}</style></head><body><h1>CDS card analytics</h1>{_sub(report)}{body}</body></html>\n")


def write_html(report: Report, path: Path) -> None:
    path.write_text(render_html(report), encoding="utf-8")
