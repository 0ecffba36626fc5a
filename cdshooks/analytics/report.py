"""Card analytics from the store: per topic, how often cards were shown, accepted and overridden, why they
were overridden, how fast clinicians answered, which topics risk alert fatigue, and (where the numbers carry
one) the weekly trend.

Built in three steps so further views are further groupings of the same rows: `load_outcomes` reads one
`CardOutcome` per issued card; `group_stats` tallies any grouping of them (by topic here; an orderer, a site or
a knowledge version is another `key`); `build_report` assembles the sections. A card's outcome is its latest
feedback (by outcomeTimestamp); rates are over cards shown.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from cdshooks.analytics import by_orderer, by_version, delivery
from cdshooks.analytics.by_orderer import OrdererViews
from cdshooks.analytics.by_version import VersionStats
from cdshooks.analytics.categories import category_counts
from cdshooks.analytics.delivery import DeliveryRow
from cdshooks.catalog.loader import CardSpec, default_catalog
from cdshooks.store.tables import feedback, issued_cards

DEFAULT_FATIGUE_THRESHOLD = 0.5  # override rate at or above which a topic is flagged
DEFAULT_MIN_SHOWN = 10  # below this many cards a rate says little

# DESIGN DEFAULT: a weekly rate over fewer cards swings too far to be read as a change (1 of 3 is 33 %,
# 2 of 3 is 67 %); weeks with fewer cards are left out of a trend.
TREND_MIN_CARDS_PER_WEEK = 10
# DESIGN DEFAULT: fewer such weeks than this show no direction; the topic gets no trend chart.
TREND_MIN_WEEKS = 4

NO_TOPIC = "(none)"


@dataclass(frozen=True)
class CardOutcome:
    """One issued card and what became of it."""

    card_uuid: str
    topic: str
    issued_at: datetime
    has_suggestions: bool
    outcome: str | None = None  # latest feedback: "accepted" | "overridden"; None: no answer
    reason: str | None = None  # of the latest override
    reason_code: str | None = None  # its code (the card catalog maps it to a 3.0 non-adherence category)
    answered_after: float | None = None  # seconds from issue to the first feedback (0 when the EHR clock is behind)


@dataclass(kw_only=True)
class GroupStats:
    """The outcomes of one group of cards."""

    shown: int = 0
    with_suggestions: int = 0  # cards that offered something to accept
    accepted: int = 0
    overridden: int = 0
    unanswered: int = 0
    acceptance_rate: float | None = None  # None: no card of the group could be accepted (no suggestion)
    override_rate: float = 0.0
    override_reasons: dict[str, int] = field(default_factory=dict)
    median_seconds_to_feedback: float | None = None  # from issue to first feedback, answered cards only
    fatigue_risk: bool = False

    @property
    def acceptable(self) -> bool:
        return self.with_suggestions > 0


@dataclass(kw_only=True)
class TopicStats(GroupStats):
    topic: str


@dataclass
class WeekStats:
    week: str  # ISO date of the Monday (UTC) the week starts
    shown: int = 0
    accepted: int = 0
    overridden: int = 0


@dataclass
class Report:
    since: str | None
    generated_at: str
    topics: list[TopicStats]
    cards_shown: int
    feedback_items: int
    feedback_unknown_cards: int
    weeks: dict[str, list[WeekStats]]  # topic -> every week with a card, oldest first
    trend_topics: list[str]  # topics whose weeks meet the trend rule
    trend_rule: dict[str, int] = field(default_factory=lambda: {
        "min_weeks": TREND_MIN_WEEKS, "min_cards_per_week": TREND_MIN_CARDS_PER_WEEK})
    fatigue_rule: dict[str, float] = field(default_factory=dict)
    first_issued: str | None = None
    last_issued: str | None = None
    # governance sections (issue 14): live/silent/suppressed per topic, per knowledge version, per orderer and site
    delivery: list[DeliveryRow] = field(default_factory=list)
    by_version: list[VersionStats] = field(default_factory=list)
    by_orderer: OrdererViews = field(default_factory=OrdererViews)
    override_categories: dict[str, int] = field(default_factory=dict)  # CDS Hooks 3.0 non-adherence categories

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def trend_weeks(self, topic: str) -> list[WeekStats]:
        """The weeks of `topic` with enough cards to carry a rate."""
        return [w for w in self.weeks.get(topic, []) if w.shown >= self.trend_rule["min_cards_per_week"]]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def week_start(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def _reason(item: Any) -> str:
    return str(item.override_display or item.override_code or ("comment only" if item.user_comment else
                                                                "no reason given"))


def load_outcomes(engine: Engine, since: datetime | None = None) -> tuple[list[CardOutcome], int, int]:
    """(one CardOutcome per card shown since `since`, feedback items stored, of which for unknown cards)."""
    cards_query = (select(issued_cards.c.card_uuid, issued_cards.c.topic, issued_cards.c.issued_at,
                          issued_cards.c.suggestion_uuids)
                   .where(issued_cards.c.delivery == "shown"))  # silent and suppressed cards: governance sections
    if since is not None:
        cards_query = cards_query.where(issued_cards.c.issued_at >= since)
    with engine.connect() as conn:
        cards = {row.card_uuid: row for row in conn.execute(cards_query)}
        items = list(conn.execute(select(
            feedback.c.id, feedback.c.card_uuid, feedback.c.outcome, feedback.c.override_code,
            feedback.c.override_display, feedback.c.user_comment, feedback.c.outcome_at)))
    first: dict[str, datetime] = {}
    latest: dict[str, Any] = {}
    unknown = 0
    for item in sorted(items, key=lambda r: (_aware(r.outcome_at), r.id)):
        if item.card_uuid not in cards:
            unknown += 1
            continue
        first.setdefault(item.card_uuid, _aware(item.outcome_at))
        latest[item.card_uuid] = item
    outcomes = []
    for uuid, row in cards.items():
        issued_at = _aware(row.issued_at)
        last = latest.get(uuid)
        answered = first.get(uuid)
        outcomes.append(CardOutcome(
            card_uuid=uuid, topic=row.topic or NO_TOPIC, issued_at=issued_at,
            has_suggestions=bool((row.suggestion_uuids or "").strip()),
            outcome=("accepted" if last.outcome == "accepted" else "overridden") if last is not None else None,
            reason=_reason(last) if last is not None and last.outcome != "accepted" else None,
            reason_code=last.override_code if last is not None and last.outcome != "accepted" else None,
            answered_after=max(0.0, (answered - issued_at).total_seconds()) if answered is not None else None,
        ))
    return outcomes, len(items), unknown


def group_stats(outcomes: Iterable[CardOutcome], key: Callable[[CardOutcome], str],
                threshold: float = DEFAULT_FATIGUE_THRESHOLD,
                min_shown: int = DEFAULT_MIN_SHOWN) -> dict[str, GroupStats]:
    """Shown / accepted / overridden / reasons / median answer time per value of `key`."""
    groups: dict[str, GroupStats] = {}
    delays: dict[str, list[float]] = defaultdict(list)
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for card in outcomes:
        name = key(card)
        entry = groups.setdefault(name, GroupStats())
        entry.shown += 1
        entry.with_suggestions += card.has_suggestions
        if card.answered_after is not None:
            delays[name].append(card.answered_after)
        if card.outcome == "accepted":
            entry.accepted += 1
        elif card.outcome == "overridden":
            entry.overridden += 1
            reasons[name][card.reason or "no reason given"] += 1
        else:
            entry.unanswered += 1
    for name, entry in groups.items():
        # a card with no suggestion cannot be accepted (CDS Hooks feedback names the accepted suggestion)
        entry.acceptance_rate = round(entry.accepted / entry.shown, 4) if entry.acceptable or entry.accepted else None
        entry.override_rate = round(entry.overridden / entry.shown, 4)
        entry.override_reasons = dict(reasons[name].most_common())
        entry.median_seconds_to_feedback = statistics.median(delays[name]) if delays[name] else None
        entry.fatigue_risk = entry.shown >= min_shown and entry.override_rate >= threshold
    return groups


def weekly(outcomes: Iterable[CardOutcome], key: Callable[[CardOutcome], str]) -> dict[str, list[WeekStats]]:
    """Per value of `key`, the weeks (by card issue) with their counts, oldest first."""
    table: dict[str, dict[date, WeekStats]] = defaultdict(dict)
    for card in outcomes:
        start = week_start(card.issued_at)
        bucket = table[key(card)].setdefault(start, WeekStats(start.isoformat()))
        bucket.shown += 1
        bucket.accepted += card.outcome == "accepted"
        bucket.overridden += card.outcome == "overridden"
    return {name: [weeks[d] for d in sorted(weeks)] for name, weeks in table.items()}


def build_report(engine: Engine, since: datetime | None = None, now: datetime | None = None,
                 threshold: float = DEFAULT_FATIGUE_THRESHOLD, min_shown: int = DEFAULT_MIN_SHOWN,
                 catalog: Mapping[str, CardSpec] | None = None) -> Report:
    outcomes, feedback_items, unknown = load_outcomes(engine, since)
    overrides = [(c.topic, c.reason_code) for c in outcomes if c.outcome == "overridden"]
    by_topic = group_stats(outcomes, lambda c: c.topic, threshold, min_shown)
    topics = [TopicStats(topic=name, **asdict(stats)) for name, stats in by_topic.items()]
    weeks = weekly(outcomes, lambda c: c.topic)
    trend = sorted(topic for topic, rows in weeks.items()
                   if sum(w.shown >= TREND_MIN_CARDS_PER_WEEK for w in rows) >= TREND_MIN_WEEKS)
    issued = [c.issued_at for c in outcomes]
    return Report(
        since=since.isoformat() if since else None,
        generated_at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
        # most overridden first: where a clinical lead looks for a card to fix or retire
        topics=sorted(topics, key=lambda t: (-t.overridden, -t.shown, t.topic)),
        cards_shown=len(outcomes),
        feedback_items=feedback_items,
        feedback_unknown_cards=unknown,
        weeks=weeks,
        trend_topics=trend,
        fatigue_rule={"threshold": threshold, "min_shown": min_shown},
        first_issued=min(issued).isoformat(timespec="seconds") if issued else None,
        last_issued=max(issued).isoformat(timespec="seconds") if issued else None,
        delivery=delivery.delivery_by_topic(engine, since),
        by_version=by_version.by_version(engine, since),
        by_orderer=by_orderer.orderer_views(engine, since),
        override_categories=category_counts(overrides, catalog if catalog is not None else default_catalog()),
    )


def format_duration(seconds: float | None) -> str:
    """`-` / 45 s / 12 min / 3.5 h / 2.0 d: a median answer time a person reads at a glance."""
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def format_text(report: Report) -> str:
    since = f", since {report.since}" if report.since else ""
    lines = [f"cards shown {report.cards_shown}, feedback items {report.feedback_items} "
             f"({report.feedback_unknown_cards} for unknown cards){since}"]
    if not report.topics:
        lines.append("no cards shown yet")
    else:
        lines.append(f"{'topic':46} {'shown':>6} {'accept':>6} {'overr':>6} {'none':>6} {'acc%':>6} {'ovr%':>6} "
                     f"{'median':>8}  flag")
    for t in report.topics:
        flag = "ALERT-FATIGUE RISK" if t.fatigue_risk else ""
        accepted = f"{t.acceptance_rate * 100:5.1f}%" if t.acceptance_rate is not None else f"{'n/a':>6}"
        lines.append(f"{t.topic[:46]:46} {t.shown:6d} {t.accepted:6d} {t.overridden:6d} {t.unanswered:6d} "
                     f"{accepted} {t.override_rate * 100:5.1f}% {format_duration(t.median_seconds_to_feedback):>8}  "
                     f"{flag}")
        if t.acceptance_rate is None:
            lines.append(f"{'':4}cannot be accepted: its cards offer no suggestion")
        for reason, count in t.override_reasons.items():
            lines.append(f"{'':4}override: {reason} x{count}")
    lines += delivery.text_lines(report.delivery) + by_version.text_lines(report.by_version)
    lines += by_orderer.text_lines(report.by_orderer)
    return "\n".join(lines)
