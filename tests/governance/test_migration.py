"""Schema migration 0003 (issue 14) on SQLite and PostgreSQL: cards issued before it stay and read as shown, the
new columns and the order_ratings table work, and it downgrades cleanly."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select, text

from cdshooks.analytics.report import build_report
from cdshooks.store.schema import current_revision, upgrade
from cdshooks.store.store import IssuedCard, IssuedRating, Store, make_engine
from cdshooks.store.tables import issued_cards, order_ratings
from tests.integration.conftest import postgres_url  # noqa: F401 - the PostgreSQL database fixture

NEW_COLUMNS = {"delivery", "evidence_key", "knowledge_version", "knowledge_hash", "user_key", "client_id", "tenant"}
MOMENT = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def _migrate_with_data(engine: Engine, url: str) -> None:
    upgrade(engine, "0002")
    with engine.begin() as conn:  # a card issued by the previous version
        conn.execute(text("INSERT INTO issued_cards (card_uuid, service_id, hook, hook_instance, topic, indicator, "
                          "suggestion_uuids, patient_key, issued_at) VALUES ('old-1', 's', 'patient-view', 'h', "
                          "'bone-mets-no-bma', 'info', '', 'k', :at)"), {"at": MOMENT})
    upgrade(engine)
    assert current_revision(engine) == "0003"
    columns = {c["name"] for c in inspect(engine).get_columns("issued_cards")}
    assert columns >= NEW_COLUMNS and "order_ratings" in inspect(engine).get_table_names()
    with engine.connect() as conn:
        old = conn.execute(select(issued_cards).where(issued_cards.c.card_uuid == "old-1")).one()
    assert old.delivery == "shown" and old.knowledge_version is None
    store = Store(url, b"key")
    try:
        store.record_cards([
            IssuedCard("new-1", "s", "order-sign", "h2", "acr-usually-not-appropriate", "warning", (), "k", MOMENT,
                       delivery="silent", evidence_key="e" * 64, knowledge_version="1.0.0", knowledge_hash="f" * 64,
                       user_key="u:abc", client_id="https://ehr.example.org", tenant="org-1"),
            IssuedRating("urn:uuid:1", "s", "order-sign", "h2", "BONE_SCAN_WB", "not-appropriate", "k", MOMENT,
                         "1.0.0", "f" * 64, "u:abc", "https://ehr.example.org", "org-1")])
        assert store.flush(timeout=30) and store.lost_cards == 0
    finally:
        store.close()
    with engine.connect() as conn:
        assert conn.execute(select(order_ratings.c.rating)).scalars().all() == ["not-appropriate"]
    report = build_report(engine)
    assert report.cards_shown == 1 and {r.topic: r.silent for r in report.delivery}["acr-usually-not-appropriate"] == 1
    upgrade_down(engine)
    assert not NEW_COLUMNS & {c["name"] for c in inspect(engine).get_columns("issued_cards")}
    assert "order_ratings" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert current_revision(engine) == "0003"


def upgrade_down(engine: Engine) -> None:
    from alembic import command

    from cdshooks.store.schema import _config

    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0002")
    assert current_revision(engine) == "0002"


def test_0003_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    engine = make_engine(url)
    try:
        _migrate_with_data(engine, url)
    finally:
        engine.dispose()


@pytest.mark.integration
def test_0003_on_postgresql(postgres_url: str) -> None:  # noqa: F811
    engine = make_engine(postgres_url)
    try:
        _migrate_with_data(engine, postgres_url)
    finally:
        engine.dispose()
