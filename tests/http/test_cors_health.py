"""CORS on every endpoint (preflight included) and the health probes."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from cdshooks import create_app
from cdshooks.settings import Settings
from tests.conftest import PATIENT_VIEW, hook_request

PATHS = ["/cds-services", f"/cds-services/{PATIENT_VIEW}", f"/cds-services/{PATIENT_VIEW}/feedback"]


@pytest.mark.parametrize("path", PATHS)
def test_preflight_allows_authorization_and_content_type(client: FlaskClient, path: str) -> None:
    response = client.options(path, headers={
        "Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type"})
    assert response.status_code == 200
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Origin"] in {"*", "https://sandbox.cds-hooks.org"}


def test_actual_post_carries_cors_headers(client: FlaskClient) -> None:
    response = client.post(f"/cds-services/{PATIENT_VIEW}", json=hook_request(),
                           headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert response.headers["Access-Control-Allow-Origin"] in {"*", "https://sandbox.cds-hooks.org"}


def test_origin_allowlist_refuses_other_origins(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/c.db", cors_origins=("https://ehr.example.org",),
                              allow_unauthenticated=True))
    try:
        c = app.test_client()
        good = c.get("/cds-services", headers={"Origin": "https://ehr.example.org"})
        bad = c.get("/cds-services", headers={"Origin": "https://evil.example.com"})
        assert good.headers["Access-Control-Allow-Origin"] == "https://ehr.example.org"
        assert "Access-Control-Allow-Origin" not in bad.headers
    finally:
        app.extensions["cdshooks"].close()


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["store"] == "ok"


def test_readiness_fails_when_store_unreachable(client: FlaskClient) -> None:
    from sqlalchemy import create_engine

    store = client.application.extensions["cdshooks"].store
    store.engine.dispose()
    store.engine = create_engine("sqlite:////nonexistent-dir/x.db")
    response = client.get("/readyz")
    assert response.status_code == 503
