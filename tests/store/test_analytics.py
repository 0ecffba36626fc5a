"""Analytics numbers are exact: shown, accepted, overridden, rates, reasons, median delay, fatigue flag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cdshooks.analytics.html import write_html
from cdshooks.analytics.report import build_report, format_text
from cdshooks.protocol.feedback import FeedbackItem
from cdshooks.store.store import IssuedCard, Store

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
    assert flare.median_seconds_to_feedback == 600.0  # latest outcomes: 7200, 5 x 600, 1800, 300
    assert flare.fatigue_risk is True
    assert (bma.shown, bma.accepted, bma.overridden, bma.fatigue_risk) == (4, 1, 0, False)
    assert bma.median_seconds_to_feedback == 60.0
    assert (report.cards_shown, report.feedback_items, report.feedback_unknown_cards) == (14, 11, 1)
    assert report.weekly_acceptance["flare"] == {"2026-05-04": 0.2}
    text = format_text(report)
    assert "ALERT-FATIGUE RISK" in text and "override: Disagree x5" in text


def test_since_filters_by_issue_time(store: Store) -> None:
    store.record_cards([_card(1, "a", T0), _card(2, "a", T0 + timedelta(days=30))])
    assert store.flush()
    report = build_report(store.engine, since=T0 + timedelta(days=1))
    assert report.cards_shown == 1


def test_html_report_is_self_contained(store: Store, tmp_path: Path) -> None:
    store.record_cards([_card(1, "flare", T0)])
    assert store.flush()
    out = tmp_path / "r.html"
    write_html(build_report(store.engine), out)
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "plotly" in page.lower() and "flare" in page
    assert "src=\"http" not in page  # no external scripts
