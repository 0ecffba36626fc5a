"""A store outage never blocks hook answers: cards still go out, the audit write is retried and then counted
as lost (log + /readyz metric)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine

from cdshooks.replay import load_fixture, topics_of
from tests.conftest import REPO

FIXTURE = REPO / "fixtures" / "order-select" / "acr-usually-not-appropriate--mri-cap-text-only.json"


def test_cards_are_answered_while_the_store_is_down(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from cdshooks import create_app
    from cdshooks.settings import Settings

    fixture = load_fixture(FIXTURE)
    app: Flask = create_app(Settings(database_url=f"sqlite:///{tmp_path}/o.db", allow_unauthenticated=True),
                            clock=lambda: fixture.as_of)  # type: ignore[arg-type, return-value]
    store = app.extensions["cdshooks"].store
    try:
        store.engine.dispose()
        store.engine = create_engine("sqlite:////nonexistent-dir/down.db")  # the database is gone
        monkeypatch.setattr("cdshooks.store.store.time.sleep", lambda _s: None)  # no back-off waits in the test
        caplog.set_level(logging.WARNING, logger="cdshooks")
        response = app.test_client().post(f"/cds-services/{fixture.service_id}", json=fixture.request)
        assert response.status_code == 200
        assert "acr-usually-not-appropriate" in topics_of(response.get_json())
        assert store.flush(timeout=10)
        assert store.lost_cards >= 1
        assert any("issued cards lost after retries" in r.getMessage() for r in caplog.records)
        assert sum("issued-card write failed" in r.getMessage() for r in caplog.records) == 3  # retried
        ready = app.test_client().get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["lostCardWrites"] == store.lost_cards
    finally:
        app.extensions["cdshooks"].close()


def test_knowledge_override_dir_changes_the_rules(tmp_path: Path) -> None:
    """CDSHOOKS_KNOWLEDGE_DIR reaches the running app: a shorter suspicion window silences the card."""
    from cdshooks import create_app
    from cdshooks.settings import Settings

    fixture = load_fixture(FIXTURE)
    override = tmp_path / "knowledge"
    override.mkdir()
    (override / "parameters.yaml").write_text("parameters:\n  P_SUSPICION_LOOKBACK_DAYS: 1\n")
    results = {}
    for name, knowledge_dir in (("shipped", ""), ("override", str(override))):
        app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/{name}.db", allow_unauthenticated=True,
                                  knowledge_dir=knowledge_dir), clock=lambda: fixture.as_of)  # type: ignore[arg-type, return-value]
        try:
            body = app.test_client().post(f"/cds-services/{fixture.service_id}", json=fixture.request).get_json()
            results[name] = topics_of(body)
        finally:
            app.extensions["cdshooks"].close()
    assert "acr-usually-not-appropriate" in results["shipped"]
    assert "acr-usually-not-appropriate" not in results["override"]
