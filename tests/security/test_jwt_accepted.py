"""Valid client JWTs are accepted on every endpoint (ES384 and RS384 keys made in the tests)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest
import responses
from flask import Flask

from tests.conftest import ORDER_SELECT, PATIENT_VIEW, hook_request
from tests.security.conftest import BASE, ISS, JKU_URL, JWKS_URL, URL_ISS, AppFactory, Signer, jwks, public_jwk

SERVICE_PATH = f"/cds-services/{PATIENT_VIEW}"


@pytest.mark.parametrize(("alg", "kid"), [("ES384", "ec-1"), ("RS384", "rsa-1")])
def test_service_call_with_valid_token(auth_app: Flask, signer: Signer, alg: str, kid: str) -> None:
    key = signer.keys.ec384 if alg == "ES384" else signer.keys.rsa
    response = auth_app.test_client().post(SERVICE_PATH, json=hook_request(),
                                           headers=signer.bearer(SERVICE_PATH, key=key, alg=alg, kid=kid))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"cards": []}


@pytest.mark.parametrize(("alg", "kid"), [("ES384", "ec-1"), ("RS384", "rsa-1")])
def test_discovery_with_valid_token(auth_app: Flask, signer: Signer, alg: str, kid: str) -> None:
    key = signer.keys.ec384 if alg == "ES384" else signer.keys.rsa
    response = auth_app.test_client().get("/cds-services", headers=signer.bearer(key=key, alg=alg, kid=kid))
    assert response.status_code == 200
    assert {s["id"] for s in response.get_json()["services"]} >= {PATIENT_VIEW, ORDER_SELECT}


def test_feedback_with_valid_token(auth_app: Flask, signer: Signer) -> None:
    path = f"{SERVICE_PATH}/feedback"
    item = {"card": str(uuid.uuid4()), "outcome": "accepted", "acceptedSuggestions": [{"id": str(uuid.uuid4())}],
            "outcomeTimestamp": datetime.now(UTC).isoformat()}
    response = auth_app.test_client().post(path, json={"feedback": [item]}, headers=signer.bearer(path))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["received"] == 1
    assert auth_app.test_client().post(path, json={"feedback": [item]}).status_code == 401


def test_audience_may_be_a_list_and_extra_claims_are_accepted(auth_app: Flask, signer: Signer) -> None:
    now = int(time.time())
    token = signer.token(aud=["https://other.example.org", f"{BASE}/cds-services"], sub="ehr-user-1", nbf=now - 5,
                         tenant="any-tenant", fhirUser="Practitioner/1")
    response = auth_app.test_client().get("/cds-services", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_not_before_in_the_future_is_honoured(auth_app: Flask, signer: Signer) -> None:
    token = signer.token(nbf=int(time.time()) + 600)
    assert auth_app.test_client().get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_bearer_scheme_is_case_insensitive(auth_app: Flask, signer: Signer) -> None:
    headers = {"Authorization": f"bearer {signer.token()}"}
    assert auth_app.test_client().get("/cds-services", headers=headers).status_code == 200


def test_public_base_url_with_a_path_prefix(make_app: AppFactory, signer: Signer) -> None:
    """Behind a proxy that strips /cds: aud is the public URL, not the one the app sees."""
    app = make_app(public_base_url="https://proxy.example.org/cds")
    token = signer.token(aud="https://proxy.example.org/cds/cds-services")
    assert app.test_client().get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_health_and_preflight_stay_open(auth_app: Flask) -> None:
    client = auth_app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    preflight = client.options(SERVICE_PATH, headers={
        "Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type"})
    assert preflight.status_code == 200
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()


def test_production_cors_needs_an_explicit_origin_list(make_app: AppFactory) -> None:
    """With authentication on, `*` allows no browser origin (and `null` is never echoed)."""
    headers = {"Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "Authorization, Content-Type"}
    wildcard = make_app(cors_origins=("*",)).test_client().options(SERVICE_PATH, headers=headers)
    assert "Access-Control-Allow-Origin" not in wildcard.headers
    listed = make_app(cors_origins=("https://sandbox.cds-hooks.org", "null"))
    assert listed.test_client().options(SERVICE_PATH, headers=headers).headers[
        "Access-Control-Allow-Origin"] == "https://sandbox.cds-hooks.org"
    null = listed.test_client().options(SERVICE_PATH, headers=headers | {"Origin": "null"})
    assert "Access-Control-Allow-Origin" not in null.headers


def test_security_headers(auth_app: Flask, signer: Signer) -> None:
    client = auth_app.test_client()
    discovery = client.get("/cds-services", headers=signer.bearer())
    assert discovery.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in discovery.headers  # plain http here
    call = client.post(SERVICE_PATH, json={}, headers=signer.bearer(SERVICE_PATH) | {"X-Forwarded-Proto": "https"})
    assert call.headers["Cache-Control"] == "no-store"
    assert call.headers["Strict-Transport-Security"].startswith("max-age=")


def test_401_carries_cors_headers(auth_app: Flask) -> None:
    response = auth_app.test_client().get("/cds-services", headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert response.status_code == 401
    assert "Access-Control-Allow-Origin" in response.headers


def test_other_algorithms_when_configured(make_app: AppFactory, signer: Signer) -> None:
    app = make_app(jwt_algorithms=("ES256", "ES384"))
    es256 = signer.token(key=signer.keys.ec256, alg="ES256", kid="ec256-1")
    assert app.test_client().get("/cds-services", headers={"Authorization": f"Bearer {es256}"}).status_code == 200
    rs384 = signer.token(key=signer.keys.rsa, alg="RS384", kid="rsa-1")
    assert app.test_client().get("/cds-services", headers={"Authorization": f"Bearer {rs384}"}).status_code == 401


@responses.activate
def test_keys_from_jwks_url(auth_app: Flask, signer: Signer) -> None:
    responses.get(JWKS_URL, json=jwks(public_jwk(signer.keys.url384, "url-1", "ES384")))
    token = signer.token(iss=URL_ISS, key=signer.keys.url384, kid="url-1")
    assert auth_app.test_client().get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@responses.activate
def test_allowlisted_jku_is_fetched(auth_app: Flask, signer: Signer) -> None:
    responses.get(JWKS_URL, json=jwks(public_jwk(signer.keys.url384, "url-1", "ES384")))
    jku = responses.get(JKU_URL, json=jwks(public_jwk(signer.keys.jku384, "jku-1", "ES384")))
    token = signer.token(iss=URL_ISS, key=signer.keys.jku384, kid="jku-1", headers={"jku": JKU_URL})
    assert auth_app.test_client().get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert jku.call_count == 1


def test_dev_mode_ignores_tokens_and_accepts_calls(tmp_path: object, clients_file: object) -> None:
    from cdshooks import create_app
    from cdshooks.settings import Settings

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/d.db", clients_file=str(clients_file),
                              allow_unauthenticated=True))
    try:
        assert app.test_client().get("/cds-services").status_code == 200
        assert app.test_client().get("/cds-services", headers={"Authorization": "Bearer x"}).status_code == 200
    finally:
        app.extensions["cdshooks"].close()


def test_issuer_is_logged_with_the_hook_call(auth_app: Flask, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    response = auth_app.test_client().post(SERVICE_PATH, json=hook_request(), headers=signer.bearer(SERVICE_PATH))
    assert response.status_code == 200
    hook_logs = [r for r in caplog.records if r.__dict__.get("event") == "hook"]
    assert hook_logs and hook_logs[-1].__dict__["issuer"] == ISS
    assert json.loads(response.get_data()) == {"cards": []}
