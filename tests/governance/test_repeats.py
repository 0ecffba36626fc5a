"""No repeat alerts: after an override, the same topic for the same patient is suppressed within the window
unless its evidence changed; the suppression is recorded and counted; off by default."""

from __future__ import annotations

import dataclasses
import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from cdshooks.analytics.report import build_report
from cdshooks.cli import main
from cdshooks.clinical.findings import Finding
from cdshooks.clinical.topics import registry
from cdshooks.governance.repeats import EVIDENCE_COUNTS, NOW_RELATIVE, evidence_fingerprint
from cdshooks.replay import load_fixture
from tests.governance.conftest import NOT_APPROPRIATE, AppFactory, call, card_rows, topics

TOPIC = "acr-usually-not-appropriate"
AS_OF = load_fixture(NOT_APPROPRIATE).as_of


def _override(app: Flask, body: dict[str, Any], topic: str, moment: datetime) -> None:
    card = next(c for c in body["cards"] if c["source"]["topic"]["code"] == topic)
    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": moment.isoformat(),
                              "overrideReason": {"reason": card["overrideReasons"][0]}}]}
    response = app.test_client().post("/cds-services/bone-mets-imaging-order-select/feedback", json=feedback)
    assert response.status_code == 200 and response.get_json()["stored"] == 1


def _other_draft(body: dict[str, Any]) -> dict[str, Any]:
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    return {"draftOrders": {"resourceType": "Bundle", "type": "collection",
                            "entry": [{"resource": draft | {"id": "sr-mri-cap-new"}}]},
            "selections": ["ServiceRequest/sr-mri-cap-new"]}


def test_an_overridden_card_is_not_repeated_on_the_same_evidence(gov_app: AppFactory) -> None:
    now = {"at": AS_OF}
    app = gov_app(clock=lambda: now["at"], repeat_window_days=7)
    first = call(app, NOT_APPROPRIATE)
    assert TOPIC in topics(first)
    card_rows(app)  # the issued card is written (in service, feedback comes seconds later)
    _override(app, first, TOPIC, AS_OF + timedelta(minutes=1))
    now["at"] = AS_OF + timedelta(days=2)
    again = call(app, NOT_APPROPRIATE)
    assert TOPIC not in topics(again)
    assert "not-appropriate" in str(again["systemActions"])  # the rating is still written
    deliveries = [r.delivery for r in card_rows(app) if r.topic == TOPIC]
    assert deliveries == ["shown", "suppressed"]
    counted = next(r for r in build_report(app.extensions["cdshooks"].store.engine).delivery if r.topic == TOPIC)
    assert counted.suppressed == 1
    # changed evidence: a new order is shown again
    request = load_fixture(NOT_APPROPRIATE).request
    assert TOPIC in topics(call(app, NOT_APPROPRIATE, **_other_draft(request)))
    # past the window: shown again
    now["at"] = AS_OF + timedelta(days=9)
    assert TOPIC in topics(call(app, NOT_APPROPRIATE))


def test_repeats_are_shown_when_the_setting_is_off(gov_app: AppFactory) -> None:
    app = gov_app()
    first = call(app, NOT_APPROPRIATE)
    card_rows(app)
    _override(app, first, TOPIC, AS_OF + timedelta(minutes=1))
    assert TOPIC in topics(call(app, NOT_APPROPRIATE))


def test_the_fingerprint_follows_the_evidence_not_the_passing_of_time() -> None:
    values_type = registry().topics["post-chemo-bone-scan-timing"].values
    base = values_type(order="Bone scan", agent="paclitaxel", last_dose=datetime(2026, 5, 1, tzinfo=UTC),
                       days_since=20, window_days=28)
    finding = Finding("post-chemo-bone-scan-timing", base, order_ids=("ServiceRequest/1",),
                      recency=datetime(2026, 5, 1, tzinfo=UTC))
    key = evidence_fingerprint(finding)
    assert evidence_fingerprint(dataclasses.replace(finding, values=dataclasses.replace(base, days_since=21))) == key
    for changed in (dataclasses.replace(finding, values=dataclasses.replace(base, last_dose=datetime(2026, 5, 8,
                                                                                                     tzinfo=UTC))),
                    dataclasses.replace(finding, order_ids=("ServiceRequest/2",)),
                    dataclasses.replace(finding, recency=datetime(2026, 5, 20, tzinfo=UTC))):
        assert evidence_fingerprint(changed) != key


def test_every_whole_number_card_value_is_classified() -> None:
    """A new count on a card must be declared: evidence (in the fingerprint) or time since (left out)."""
    for topic in registry().topics.values():
        hints = typing.get_type_hints(topic.values)
        for field in dataclasses.fields(topic.values):
            if hints[field.name] is int:
                assert field.name in NOW_RELATIVE | EVIDENCE_COUNTS, (topic.code, field.name)


def test_check_config_warns_when_replicas_cannot_share_overrides(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDSHOOKS_DATABASE_URL", f"sqlite:///{tmp_path}/c.db")
    monkeypatch.setenv("CDSHOOKS_ALLOW_UNAUTHENTICATED", "1")
    monkeypatch.setenv("CDSHOOKS_REPEAT_WINDOW_DAYS", "7")
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code == 0 and "CDSHOOKS_REPEAT_WINDOW_DAYS with a SQLite store" in result.output
    monkeypatch.setenv("CDSHOOKS_REPEAT_WINDOW_DAYS", "0")
    assert "REPEAT_WINDOW_DAYS with" not in CliRunner().invoke(main, ["check-config"]).output
