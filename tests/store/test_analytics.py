"""Analytics numbers are exact: shown, accepted, overridden, rates, reasons, median delay, fatigue flag."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cdshooks.analytics.html import render_html, write_html
from cdshooks.analytics.report import (
    TREND_MIN_CARDS_PER_WEEK,
    TREND_MIN_WEEKS,
    WeekStats,
    build_report,
    format_text,
)
from cdshooks.protocol.feedback import FeedbackItem
from cdshooks.store.store import IssuedCard, Store
from tests.store.analytics_data import MONDAY, PROFILES, report_for

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)  # a Monday


def _card(n: int, topic: str, at: datetime) -> IssuedCard:
    return IssuedCard(f"card-{n}", "svc", "patient-view", f"hi-{n}", topic, "info", (f"s-{n}",), "pk", at)


def _feedback(card: str, outcome: str, at: datetime, code: str | None = None,
              comment: str | None = None) -> FeedbackItem:
    body: dict[str, object] = {"card": card, "outcome": outcome, "outcomeTimestamp": at.isoformat()}
    if outcome == "accepted":
        body["acceptedSuggestions"] = [{"id": "s"}]
    reason: dict[str, object] = {}
    if code:
        reason["reason"] = {"system": "x", "code": code, "display": code.title()}
    if comment:
        reason["userComment"] = comment
    if reason:
        body["overrideReason"] = reason
    return FeedbackItem.model_validate(body)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path}/a.db", b"k")
    s.create_schema()
    return s


def test_report_numbers_are_exact(store: Store) -> None:
    cards = [_card(i, "flare", T0 + timedelta(hours=i)) for i in range(10)]
    cards += [_card(100 + i, "bma", T0 + timedelta(days=7, hours=i)) for i in range(4)]
    store.record_cards(cards)
    assert store.flush()
    items = [_feedback(f"card-{i}", "overridden", T0 + timedelta(hours=i, minutes=10), code="disagree")
             for i in range(6)]
    items += [_feedback("card-6", "accepted", T0 + timedelta(hours=6, minutes=30))]
    items += [_feedback("card-7", "overridden", T0 + timedelta(hours=7, minutes=5), comment="not now")]
    # card-0 later accepted: the latest outcome counts
    items += [_feedback("card-0", "accepted", T0 + timedelta(hours=2))]
    items += [_feedback("card-100", "accepted", T0 + timedelta(days=7, minutes=1))]
    items += [_feedback("ghost", "overridden", T0, comment="unknown card")]
    result = store.add_feedback("svc", items, T0 + timedelta(days=8))
    assert result.stored == len(items)
    report = build_report(store.engine, threshold=0.5, min_shown=10)
    by_topic = {t.topic: t for t in report.topics}
    flare, bma = by_topic["flare"], by_topic["bma"]
    assert (flare.shown, flare.accepted, flare.overridden) == (10, 2, 6)
    assert (flare.acceptance_rate, flare.override_rate) == (0.2, 0.6)
    assert flare.override_reasons == {"Disagree": 5, "comment only": 1}
    assert flare.median_seconds_to_feedback == 600.0  # first answers: 6 x 600, 1800, 300
    assert flare.fatigue_risk is True
    assert flare.unanswered == 2
    assert (bma.shown, bma.accepted, bma.overridden, bma.unanswered, bma.fatigue_risk) == (4, 1, 0, 3, False)
    assert bma.median_seconds_to_feedback == 60.0
    assert (report.cards_shown, report.feedback_items, report.feedback_unknown_cards) == (14, 11, 1)
    assert report.weeks["flare"] == [WeekStats("2026-05-04", shown=10, accepted=2, overridden=6)]
    assert [t.topic for t in report.topics] == ["flare", "bma"]  # most overridden first
    text = format_text(report)
    assert "ALERT-FATIGUE RISK" in text and "override: Disagree x5" in text and "10 min" in text


def test_since_filters_by_issue_time(store: Store) -> None:
    store.record_cards([_card(1, "a", T0), _card(2, "a", T0 + timedelta(days=30))])
    assert store.flush()
    report = build_report(store.engine, since=T0 + timedelta(days=1))
    assert report.cards_shown == 1


def test_median_time_is_from_issue_to_the_first_answer(store: Store) -> None:
    """The README's median time to feedback: how long clinicians took to answer, not to change their mind; an EHR
    clock behind the service's counts as an immediate answer, never as a negative time."""
    store.record_cards([_card(1, "t", T0), _card(2, "t", T0), _card(3, "t", T0), _card(4, "t", T0)])
    assert store.flush()
    store.add_feedback("svc", [
        _feedback("card-1", "overridden", T0 + timedelta(seconds=60), code="x"),
        _feedback("card-1", "accepted", T0 + timedelta(hours=5)),  # changes the outcome, not the answer time
        _feedback("card-2", "accepted", T0 + timedelta(seconds=240)),
        _feedback("card-3", "accepted", T0 - timedelta(seconds=30)),
    ], T0 + timedelta(days=1))
    (topic,) = build_report(store.engine).topics
    assert (topic.accepted, topic.overridden, topic.unanswered) == (3, 0, 1)
    assert topic.median_seconds_to_feedback == 60.0  # of 60, 240, 0 (card-4 unanswered: not counted)


def test_cards_without_suggestions_cannot_be_accepted(store: Store, tmp_path: Path) -> None:
    plain = [IssuedCard(f"p-{n}", "svc", "patient-view", "hi", "flare", "info", (), "pk", T0) for n in range(3)]
    store.record_cards([*plain, _card(9, "bma", T0)])
    assert store.flush()
    store.add_feedback("svc", [_feedback("p-0", "overridden", T0, code="no")], T0)
    report = build_report(store.engine)
    flare = next(t for t in report.topics if t.topic == "flare")
    bma = next(t for t in report.topics if t.topic == "bma")
    assert (flare.acceptance_rate, flare.override_rate) == (None, 0.3333)
    assert bma.acceptance_rate == 0.0  # offered a suggestion, not taken: a real 0 %
    assert "cannot be accepted: its cards offer no suggestion" in format_text(report)
    page = render_html(report)
    row = page[page.index('<td class="topic">flare</td>'):]
    assert row[:row.index("</tr>")].count("cannot be accepted: no suggestion") == 1
    assert "0%" in page[page.index('<td class="topic">bma</td>'):]


def test_trend_only_where_the_weeks_carry_it(store: Store) -> None:
    cards: list[IssuedCard] = []
    plan = {"steady": (TREND_MIN_WEEKS, TREND_MIN_CARDS_PER_WEEK),  # just enough
            "short": (TREND_MIN_WEEKS - 1, 30),  # too few weeks
            "thin": (TREND_MIN_WEEKS + 3, TREND_MIN_CARDS_PER_WEEK - 1)}  # too few cards a week
    for topic, (weeks, per_week) in plan.items():
        for week in range(weeks):
            cards += [_card(len(cards) + n, topic, T0 + timedelta(weeks=week, hours=n)) for n in range(per_week)]
    store.record_cards(cards)
    assert store.flush()
    report = build_report(store.engine)
    assert report.trend_topics == ["steady"]
    assert [w.shown for w in report.trend_weeks("steady")] == [TREND_MIN_CARDS_PER_WEEK] * TREND_MIN_WEEKS
    page = render_html(report)
    assert page.count("<svg class=\"week\"") == 1
    assert "No trend for 2 other topic(s): short, thin." in page


def test_html_report_is_self_contained(store: Store, tmp_path: Path) -> None:
    store.record_cards([_card(1, "flare", T0)])
    assert store.flush()
    out = tmp_path / "r.html"
    write_html(build_report(store.engine), out)
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "flare" in page
    assert "<script" not in page and "src=" not in page and "@import" not in page  # nothing fetched


@pytest.mark.parametrize("weeks", [0, 1, 10])
def test_the_page_for_empty_one_week_and_ten_weeks(tmp_path: Path, weeks: int) -> None:
    """What a clinical lead sees with no data, a first week, and ten weeks (screenshots: README, Analytics)."""
    report = report_for(tmp_path, weeks)
    page = render_html(report)
    assert re.search(r"<th>\s*</th>|<h\d>\s*</h\d>", page) is None  # no blank header
    if weeks == 0:
        assert "No cards issued yet." in page and "<table" not in page and "<svg class=\"week\"" not in page
        return
    shown = [int(n) for n in re.findall(r'<td class="topic">[^<]+</td><td class="num">(\d+)</td>', page)]
    assert sum(shown) == report.cards_shown
    overridden = [t.overridden for t in report.topics]
    assert overridden == sorted(overridden, reverse=True)  # sorted bars, most overridden first
    for t in report.topics:
        if t.acceptance_rate is None:
            assert not any(p.suggestions for p in PROFILES if p.topic == t.topic)
    assert page.count('<div class="cell"><h3>') == len([t for t in report.topics if t.overridden]) + len(
        report.trend_topics)
    if weeks == 1:
        assert report.trend_topics == [] and "Not enough data for a trend yet" in page
    else:
        assert set(report.trend_topics) == {"acr-usually-not-appropriate", "renal-impairment-contrast",
                                            "bone-mets-no-bma", "cns-symptoms-mri-brain"}
        assert page.count("<svg class=\"week\"") == len(report.trend_topics)
        # one shared x-axis of week dates, first and last Monday of the data
        first, last = MONDAY.date(), (MONDAY + timedelta(weeks=weeks - 1)).date()
        assert f">{first.day} {first:%b}</text>" in page and f">{last.day} {last:%b}</text>" in page
