"""An order the ACR rates usually appropriate gets a rating and no card, unless confirmation cards are on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from cdshooks import create_app
from cdshooks.replay import load_fixture, ratings_of, topics_of
from cdshooks.settings import Settings
from tests.conftest import REPO

APPROPRIATE = REPO / "fixtures" / "order-select" / "aggressive-subtype-pet-ct--near-miss-her2-positive.json"
NOT_APPROPRIATE = REPO / "fixtures" / "order-select" / "acr-usually-not-appropriate--mri-cap-text-only.json"


def _app(tmp_path: Path, **overrides: object) -> Flask:
    fixture = load_fixture(APPROPRIATE)
    settings = Settings(database_url=f"sqlite:///{tmp_path}/q.db", allow_unauthenticated=True).with_overrides(
        **overrides)
    return create_app(settings, clock=lambda: fixture.as_of)  # type: ignore[arg-type, return-value]


@pytest.fixture
def quiet(tmp_path: Path) -> Iterator[Flask]:
    app = _app(tmp_path)
    yield app
    app.extensions["cdshooks"].close()


@pytest.fixture
def confirming(tmp_path: Path) -> Iterator[Flask]:
    app = _app(tmp_path, appropriate_order_cards=True)
    yield app
    app.extensions["cdshooks"].close()


def _call(app: Flask, path: Path) -> dict[str, object]:
    fixture = load_fixture(path)
    response = app.test_client().post(f"/cds-services/{fixture.service_id}", json=fixture.request)
    assert response.status_code == 200
    body: dict[str, object] = response.get_json()
    return body


def test_appropriate_order_gets_a_rating_and_no_card_by_default(quiet: Flask) -> None:
    body = _call(quiet, APPROPRIATE)
    assert "acr-usually-appropriate" not in topics_of(body)
    assert "appropriate" in ratings_of(body).values()


def test_confirmation_card_when_switched_on(confirming: Flask) -> None:
    body = _call(confirming, APPROPRIATE)
    assert "acr-usually-appropriate" in topics_of(body)
    card = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "acr-usually-appropriate")  # type: ignore[attr-defined, union-attr]
    assert card["indicator"] == "info" and "mSv" in card["summary"]


def test_no_confirmation_for_an_inappropriate_order(confirming: Flask) -> None:
    body = _call(confirming, NOT_APPROPRIATE)
    topics = topics_of(body)
    assert "acr-usually-not-appropriate" in topics and "acr-usually-appropriate" not in topics
