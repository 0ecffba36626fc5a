"""Card analytics from the store: per topic, how often cards were shown, accepted and overridden, why they
were overridden, how fast clinicians answered, and which topics risk alert fatigue.

A card's outcome is its latest feedback (by outcomeTimestamp); rates are over cards shown.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from cdshooks.analytics import by_orderer, by_version, delivery
from cdshooks.analytics.by_orderer import OrdererViews
from cdshooks.analytics.by_version import VersionStats
from cdshooks.analytics.delivery import DeliveryRow
from cdshooks.store.tables import feedback, issued_cards

DEFAULT_FATIGUE_THRESHOLD = 0.5  # override rate at or above which a topic is flagged
DEFAULT_MIN_SHOWN = 10  # below this many cards a rate says little


@dataclass
class TopicStats:
    topic: str
    shown: int = 0
    accepted: int = 0
    overridden: int = 0
    acceptance_rate: float = 0.0
    override_rate: float = 0.0
    override_reasons: dict[str, int] = field(default_factory=dict)
    median_seconds_to_feedback: float | None = None
    fatigue_risk: bool = False


@dataclass
class Report:
    since: str | None
    generated_at: str
    topics: list[TopicStats]
    cards_shown: int
    feedback_items: int
    feedback_unknown_cards: int
    weekly_acceptance: dict[str, dict[str, float]]  # topic -> ISO week start -> acceptance rate
    # governance sections (issue 14): live/silent/suppressed per topic, per knowledge version, per orderer and site
    delivery: list[DeliveryRow] = field(default_factory=list)
    by_version: list[VersionStats] = field(default_factory=list)
    by_orderer: OrdererViews = field(default_factory=OrdererViews)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_report(engine: Engine, since: datetime | None = None, now: datetime | None = None,
                 threshold: float = DEFAULT_FATIGUE_THRESHOLD, min_shown: int = DEFAULT_MIN_SHOWN) -> Report:
    cards_query = (select(issued_cards.c.card_uuid, issued_cards.c.topic, issued_cards.c.issued_at)
                   .where(issued_cards.c.delivery == "shown"))  # silent and suppressed cards: governance sections
    if since is not None:
        cards_query = cards_query.where(issued_cards.c.issued_at >= since)
    with engine.connect() as conn:
        cards = {row.card_uuid: (row.topic or "(none)", _aware(row.issued_at)) for row in conn.execute(cards_query)}
        items = list(conn.execute(select(
            feedback.c.id, feedback.c.card_uuid, feedback.c.outcome, feedback.c.override_code,
            feedback.c.override_display, feedback.c.user_comment, feedback.c.outcome_at)))
    latest: dict[str, Any] = {}
    unknown = 0
    for item in sorted(items, key=lambda r: (_aware(r.outcome_at), r.id)):
        if item.card_uuid in cards:
            latest[item.card_uuid] = item
        else:
            unknown += 1
    stats: dict[str, TopicStats] = {}
    delays: dict[str, list[float]] = defaultdict(list)
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    weekly: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for card_uuid, (topic, issued_at) in cards.items():
        entry = stats.setdefault(topic, TopicStats(topic))
        entry.shown += 1
        week = (issued_at.date().toordinal() - issued_at.weekday())
        bucket = weekly[topic][datetime.fromordinal(week).date().isoformat()]
        bucket[1] += 1
        outcome = latest.get(card_uuid)
        if outcome is None:
            continue
        delays[topic].append((_aware(outcome.outcome_at) - issued_at).total_seconds())
        if outcome.outcome == "accepted":
            entry.accepted += 1
            bucket[0] += 1
        else:
            entry.overridden += 1
            reasons[topic][outcome.override_display or outcome.override_code or
                           ("comment only" if outcome.user_comment else "no reason given")] += 1
    for topic, entry in stats.items():
        entry.acceptance_rate = round(entry.accepted / entry.shown, 4)
        entry.override_rate = round(entry.overridden / entry.shown, 4)
        entry.override_reasons = dict(reasons[topic].most_common())
        entry.median_seconds_to_feedback = statistics.median(delays[topic]) if delays[topic] else None
        entry.fatigue_risk = entry.shown >= min_shown and entry.override_rate >= threshold
    return Report(
        since=since.isoformat() if since else None,
        generated_at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
        topics=sorted(stats.values(), key=lambda t: (-t.shown, t.topic)),
        cards_shown=len(cards),
        feedback_items=len(items),
        feedback_unknown_cards=unknown,
        weekly_acceptance={topic: {week: round(a / n, 4) for week, (a, n) in sorted(weeks.items())}
                           for topic, weeks in weekly.items()},
        delivery=delivery.delivery_by_topic(engine, since),
        by_version=by_version.by_version(engine, since),
        by_orderer=by_orderer.orderer_views(engine, since),
    )


def format_text(report: Report) -> str:
    since = f", since {report.since}" if report.since else ""
    lines = [f"cards shown {report.cards_shown}, feedback items {report.feedback_items} "
             f"({report.feedback_unknown_cards} for unknown cards){since}"]
    header = f"{'topic':46} {'shown':>6} {'accept':>6} {'overr':>6} {'acc%':>6} {'ovr%':>6} {'median':>9}  flag"
    lines.append(header)
    for t in report.topics:
        median = f"{t.median_seconds_to_feedback:.0f}s" if t.median_seconds_to_feedback is not None else "-"
        flag = "ALERT-FATIGUE RISK" if t.fatigue_risk else ""
        lines.append(f"{t.topic[:46]:46} {t.shown:6d} {t.accepted:6d} {t.overridden:6d} "
                     f"{t.acceptance_rate * 100:5.1f}% {t.override_rate * 100:5.1f}% {median:>9}  {flag}")
        for reason, count in t.override_reasons.items():
            lines.append(f"{'':4}override: {reason} x{count}")
    lines += delivery.text_lines(report.delivery) + by_version.text_lines(report.by_version)
    lines += by_orderer.text_lines(report.by_orderer)
    return "\n".join(lines)
