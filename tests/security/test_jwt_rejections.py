"""One test per rejection: each bad token gets the same generic 401, and the log names the check that failed."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from flask import Flask

from tests.conftest import PATIENT_VIEW, hook_request
from tests.security.conftest import BASE, ISS, TENANT_ISS, URL_ISS, Signer, b64, claims

SERVICE_PATH = f"/cds-services/{PATIENT_VIEW}"


def reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.__dict__["reason"] for r in caplog.records
            if r.__dict__.get("event") == "auth" and "reason" in r.__dict__]


def assert_rejected(response: Any, caplog: pytest.LogCaptureFixture, reason: str) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.get_json() == {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "login", "diagnostics": "client authentication failed"}]}
    logged = reasons(caplog)
    assert logged and reason in logged[-1], logged


def discover(app: Flask, token: str) -> Any:
    return app.test_client().get("/cds-services", headers={"Authorization": f"Bearer {token}"})


def test_no_authorization_header(auth_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    assert_rejected(auth_app.test_client().get("/cds-services"), caplog, "no Authorization header")


@pytest.mark.parametrize("value", ["Basic dXNlcjpwdw==", "Bearer", "Bearer not-a-jwt", "Bearer a.b.c.d", "token"])
def test_malformed_authorization(auth_app: Flask, caplog: pytest.LogCaptureFixture, value: str) -> None:
    response = auth_app.test_client().get("/cds-services", headers={"Authorization": value})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"


def test_wrong_alg_rejected(auth_app: Flask, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    """ES256 is a real signature by a registered key, but not in the default allowed set (ES384, RS384)."""
    token = signer.token(key=signer.keys.ec256, alg="ES256", kid="ec256-1")
    assert_rejected(discover(auth_app, token), caplog, "alg ES256 not allowed")
    rs256 = signer.token(key=signer.keys.rsa, alg="RS256", kid="rsa-1")
    assert_rejected(discover(auth_app, rs256), caplog, "alg RS256 not allowed")


def test_alg_none_rejected(auth_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    for alg in ("none", "None", "NONE"):
        token = Signer.unsigned({"alg": alg, "typ": "JWT", "kid": "ec-1"}, claims())
        assert_rejected(discover(auth_app, token), caplog, "is never accepted")


def test_hs256_signed_with_the_public_key_rejected(auth_app: Flask, signer: Signer,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """The classic key-confusion attack: HMAC keyed with the client's public key (which anyone can get)."""
    for key in (signer.keys.ec384, signer.keys.rsa):
        public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
        for alg, digest in (("HS256", hashlib.sha256), ("HS384", hashlib.sha384)):
            unsigned = Signer.unsigned({"alg": alg, "typ": "JWT", "kid": "ec-1"}, claims())
            signing_input = unsigned.rsplit(".", 1)[0]
            signature = hmac.new(public_pem, signing_input.encode(), digest).digest()
            assert_rejected(discover(auth_app, f"{signing_input}.{b64(signature)}"), caplog, "is never accepted")


def test_missing_kid_rejected(auth_app: Flask, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    assert_rejected(discover(auth_app, signer.token(kid=None)), caplog, "no kid")


def test_typ_other_than_jwt_rejected(auth_app: Flask, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    assert_rejected(discover(auth_app, signer.token(headers={"typ": "at+jwt"})), caplog, "typ is not JWT")
    assert_rejected(discover(auth_app, signer.token(headers={"typ": ""})), caplog, "typ is not JWT")


def test_unknown_kid_rejected(auth_app: Flask, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    assert_rejected(discover(auth_app, signer.token(kid="no-such-kid")), caplog, "unknown kid")


def test_signature_by_another_key_rejected(auth_app: Flask, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    assert_rejected(discover(auth_app, signer.token(key=signer.keys.other384)), caplog, "signature invalid")


def test_key_of_another_type_rejected(auth_app: Flask, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    """An ES384 header naming the client's RSA key."""
    assert_rejected(discover(auth_app, signer.token(kid="rsa-1")), caplog, "does not fit alg ES384")


def test_expired_rejected(auth_app: Flask, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    now = int(time.time())
    token = signer.token(iat=now - 600, exp=now - 120)  # past the 30 s leeway
    assert_rejected(discover(auth_app, token), caplog, "expired")


def test_future_iat_rejected(auth_app: Flask, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    now = int(time.time())
    token = signer.token(iat=now + 600, exp=now + 900)
    assert_rejected(discover(auth_app, token), caplog, "not yet valid")


def test_small_clock_skew_is_tolerated(auth_app: Flask, signer: Signer) -> None:
    now = int(time.time())
    assert discover(auth_app, signer.token(iat=now + 10, exp=now + 300)).status_code == 200
    assert discover(auth_app, signer.token(iat=now - 300, exp=now - 10)).status_code == 200


def test_lifetime_over_the_cap_rejected(auth_app: Flask, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    now = int(time.time())
    assert_rejected(discover(auth_app, signer.token(iat=now, exp=now + 7200)), caplog, "lifetime over 3600")


@pytest.mark.parametrize("claim", ["exp", "iat", "jti", "aud"])
def test_missing_required_claim_rejected(auth_app: Flask, signer: Signer, caplog: pytest.LogCaptureFixture,
                                         claim: str) -> None:
    assert_rejected(discover(auth_app, signer.token(**{claim: None})), caplog, f"required claim {claim} missing")


def test_wrong_aud_rejected(auth_app: Flask, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    for aud in ("https://other-service.example.org/cds-services", "http://cds.example.org/cds-services",
                f"{BASE}/cds-services/", BASE, ["https://a.example.org", "https://b.example.org"]):
        assert_rejected(discover(auth_app, signer.token(aud=aud)), caplog, "aud is not this endpoint")


def test_discovery_token_rejected_at_a_service_url(auth_app: Flask, signer: Signer,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    headers = signer.bearer("/cds-services")
    response = auth_app.test_client().post(SERVICE_PATH, json=hook_request(), headers=headers)
    assert_rejected(response, caplog, "aud is not this endpoint")
    feedback = auth_app.test_client().post(f"{SERVICE_PATH}/feedback", json={"feedback": []},
                                           headers=signer.bearer(SERVICE_PATH))
    assert_rejected(feedback, caplog, "aud is not this endpoint")


def test_unknown_issuer_rejected(auth_app: Flask, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    assert_rejected(discover(auth_app, signer.token(iss="https://evil.example.com")), caplog, "iss not registered")
    assert_rejected(discover(auth_app, signer.token(iss=ISS + "/")), caplog, "iss not registered")


def test_replayed_jti_rejected(auth_app: Flask, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    token = signer.token()
    assert discover(auth_app, token).status_code == 200
    assert_rejected(discover(auth_app, token), caplog, "jti replayed")
    # a new token re-using a jti already seen is a replay too
    jti = claims()["jti"]
    assert discover(auth_app, signer.token(jti=jti)).status_code == 200
    assert_rejected(discover(auth_app, signer.token(jti=jti)), caplog, "jti replayed")


def test_rejected_token_does_not_use_up_its_jti(auth_app: Flask, signer: Signer) -> None:
    jti = claims()["jti"]
    assert discover(auth_app, signer.token(jti=jti, aud="https://elsewhere.example.org")).status_code == 401
    assert discover(auth_app, signer.token(jti=jti)).status_code == 200


def test_tenant_mismatch_rejected(auth_app: Flask, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    assert_rejected(discover(auth_app, signer.token(iss=TENANT_ISS, tenant="org-9")), caplog, "tenant")
    assert_rejected(discover(auth_app, signer.token(iss=TENANT_ISS)), caplog, "tenant")
    assert discover(auth_app, signer.token(iss=TENANT_ISS, tenant="org-2")).status_code == 200


def test_jku_not_allowlisted_rejected(auth_app: Flask, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    for jku in ("https://attacker.example.com/jwks.json", "https://keys.example.org/other.json"):
        token = signer.token(iss=URL_ISS, headers={"jku": jku})
        assert_rejected(discover(auth_app, token), caplog, "jku not on this client's allowlist")
    # a client without any jku allowlist refuses every jku
    token = signer.token(headers={"jku": "https://ehr.example.org/jwks.json"})
    assert_rejected(discover(auth_app, token), caplog, "jku not on this client's allowlist")


def test_crit_header_rejected(auth_app: Flask, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    token = signer.token(headers={"crit": ["exp"], "exp": 1})
    assert discover(auth_app, token).status_code == 401


def test_every_rejection_looks_the_same(auth_app: Flask, signer: Signer) -> None:
    now = int(time.time())
    tokens = [signer.token(kid="nope"), signer.token(iat=now - 900, exp=now - 600), signer.token(iss="x"),
              signer.token(aud="https://x.example.org")]
    bodies = {discover(auth_app, t).get_data() for t in tokens}
    assert len(bodies) == 1


def test_unknown_paths_need_authentication_too(auth_app: Flask) -> None:
    assert auth_app.test_client().get("/admin").status_code == 401
    assert auth_app.test_client().post("/cds-services/no-such-service", json={}).status_code == 401


def test_no_clients_file_refuses_every_call(tmp_path: Any) -> None:
    from cdshooks import create_app
    from cdshooks.settings import Settings

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/n.db", public_base_url=BASE))
    try:
        client = app.test_client()
        assert client.get("/cds-services").status_code == 401
        assert client.get("/healthz").status_code == 200
    finally:
        app.extensions["cdshooks"].close()
