"""Shared helpers for the governance tests (issue 14): apps with settings overrides, fixture calls, store rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from cdshooks import create_app
from cdshooks.replay import load_fixture
from cdshooks.settings import Settings
from cdshooks.store.tables import issued_cards, order_ratings
from tests.conftest import REPO

# an order-select call: a card about the drafted order (acr-usually-not-appropriate, with update suggestions) and a
# not-appropriate rating
NOT_APPROPRIATE = REPO / "fixtures" / "order-select" / "acr-usually-not-appropriate--mri-cap-text-only.json"
# a patient-view call: bone-mets-no-bma, a card about the chart (no drafted order)
NO_BMA = REPO / "fixtures" / "patient-view" / "bone-mets-no-bma--condition-no-agent.json"

AppFactory = Callable[..., Flask]


@pytest.fixture
def gov_app(tmp_path: Path) -> Iterator[AppFactory]:
    """Apps on one SQLite file (a store shared like replicas share one), clock pinned to the fixtures' asOf
    (or the `clock` given)."""
    apps: list[Flask] = []
    moment = load_fixture(NOT_APPROPRIATE).as_of

    def build(clock: Callable[[], Any] | None = None, **overrides: Any) -> Flask:
        settings = Settings(database_url=f"sqlite:///{tmp_path}/gov.db", allow_unauthenticated=True,
                            pseudonym_key="governance-test").with_overrides(**overrides)
        app = create_app(settings, clock=clock or (lambda: moment))
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["cdshooks"].close()


def call(app: Flask, path: Path, **changes: Any) -> dict[str, Any]:
    """POST the fixture's request (top-level `changes` applied to its context) and return the 200 body."""
    fixture = load_fixture(path)
    request = fixture.request
    request["context"] = request["context"] | changes
    response = app.test_client().post(f"/cds-services/{fixture.service_id}", json=request)
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def card_rows(app: Flask) -> list[Any]:
    rt = app.extensions["cdshooks"]
    assert rt.store.flush(timeout=30)
    with rt.store.engine.connect() as conn:
        return list(conn.execute(select(issued_cards).order_by(issued_cards.c.issued_at)))


def rating_rows(app: Flask) -> list[Any]:
    rt = app.extensions["cdshooks"]
    assert rt.store.flush(timeout=30)
    with rt.store.engine.connect() as conn:
        return list(conn.execute(select(order_ratings).order_by(order_ratings.c.id)))


def topics(body: dict[str, Any]) -> list[str]:
    return [card["source"]["topic"]["code"] for card in body["cards"]]
