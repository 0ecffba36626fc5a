"""JWK sets: bounded refresh on unknown kids (no fetch storms), rotation, failures, the sandbox's key set."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
import requests
import responses
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask

from cdshooks.auth.clients import load_clients
from cdshooks.auth.jwks import JwksError, KeySource, KeyStore, parse_jwks
from tests.conftest import REPO
from tests.security.conftest import JWKS_URL, URL_ISS, AppFactory, Signer, jwks, public_jwk

SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
SANDBOX_JWKS = REPO / "deploy" / "sandbox-jwks.json"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _source(clock: FakeClock, interval: float = 60.0, max_age: float = 3600.0) -> KeySource:
    session = requests.Session()
    return KeySource(JWKS_URL, session=session, timeout=1.0, max_age=max_age, refresh_interval=interval,
                     monotonic=clock)


@responses.activate
def test_unknown_kids_fetch_at_most_once_per_interval(signer: Signer) -> None:
    mock = responses.get(JWKS_URL, json=jwks(public_jwk(signer.keys.url384, "url-1", "ES384")))
    clock = FakeClock()
    source = _source(clock)
    assert source.get("url-1") is not None
    assert mock.call_count == 1
    for i in range(50):  # a storm of made-up kids
        assert source.get(f"made-up-{i}") is None
    assert mock.call_count == 1
    clock.now += 59
    assert source.get("made-up-x") is None and mock.call_count == 1
    clock.now += 2
    assert source.get("made-up-y") is None and mock.call_count == 2
    assert source.get("made-up-z") is None and mock.call_count == 2


@responses.activate
def test_concurrent_unknown_kids_fetch_once(signer: Signer) -> None:
    mock = responses.get(JWKS_URL, json=jwks(public_jwk(signer.keys.url384, "url-1", "ES384")))
    source = _source(FakeClock())
    threads = [threading.Thread(target=source.get, args=(f"kid-{i}",)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert mock.call_count == 1


@responses.activate
def test_rotated_key_is_picked_up_after_the_interval(signer: Signer) -> None:
    first = jwks(public_jwk(signer.keys.url384, "url-1", "ES384"))
    second = jwks(public_jwk(signer.keys.jku384, "url-2", "ES384"))
    responses.get(JWKS_URL, json=first)
    clock = FakeClock()
    source = _source(clock)
    assert source.get("url-1") is not None
    responses.replace(responses.GET, JWKS_URL, json=second)
    assert source.get("url-2") is None  # within the interval: not fetched again
    clock.now += 61
    assert source.get("url-2") is not None
    assert source.get("url-1") is None  # gone from the rotated set


@responses.activate
def test_set_is_refreshed_after_max_age_and_kept_when_a_download_fails(signer: Signer) -> None:
    responses.get(JWKS_URL, json=jwks(public_jwk(signer.keys.url384, "url-1", "ES384")))
    clock = FakeClock()
    source = _source(clock, interval=10, max_age=100)
    assert source.get("url-1") is not None
    responses.replace(responses.GET, JWKS_URL, status=503)
    clock.now += 101
    assert source.get("url-1") is not None  # the failed refresh keeps the keys held
    assert len(responses.calls) == 2
    assert source.get("url-1") is not None and len(responses.calls) == 2  # no retry within the interval


@responses.activate
def test_download_failures_are_bounded_too() -> None:
    mock = responses.get(JWKS_URL, body=requests.exceptions.ConnectTimeout("down"))
    clock = FakeClock()
    source = _source(clock)
    for _ in range(10):
        assert source.get("url-1") is None
    assert mock.call_count == 1


@pytest.mark.parametrize("answer", [
    {"status": 302, "headers": {"Location": "https://evil.example.com/jwks"}},
    {"body": "x" * (300 * 1024)},
    {"body": "not json"},
    {"json": {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}},
], ids=["redirect", "oversize", "not-json", "hmac-only"])
@responses.activate
def test_redirects_oversize_and_garbage_are_refused(answer: dict[str, object]) -> None:
    responses.get(JWKS_URL, **answer)  # type: ignore[arg-type]
    assert _source(FakeClock()).get("h") is None
    assert len(responses.calls) == 1  # the redirect is not followed


@responses.activate
def test_jwks_url_refresh_is_bounded_through_the_app(make_app: AppFactory, signer: Signer) -> None:
    """A stream of tokens with unknown kids costs at most one download per refresh interval."""
    mock = responses.get(JWKS_URL, json=jwks(public_jwk(signer.keys.url384, "url-1", "ES384")))
    app: Flask = make_app(jwks_refresh_interval=0.4)
    # the refresh interval runs on a pinned clock: on a loaded machine 30 calls can outlast any real interval
    clock = FakeClock()
    verifier = app.extensions["cdshooks"].auth
    verifier.keys = KeyStore(timeout=1.0, max_age=3600.0, refresh_interval=0.4, monotonic=clock)
    client = app.test_client()
    good = signer.token(iss=URL_ISS, key=signer.keys.url384, kid="url-1")
    assert client.get("/cds-services", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    for i in range(30):
        token = signer.token(iss=URL_ISS, key=signer.keys.url384, kid=f"unknown-{i}")
        assert client.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert mock.call_count == 1
    clock.now += 0.39
    token = signer.token(iss=URL_ISS, key=signer.keys.url384, kid="unknown-early")
    assert client.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert mock.call_count == 1  # still inside the interval
    clock.now += 0.02
    token = signer.token(iss=URL_ISS, key=signer.keys.url384, kid="unknown-late")
    assert client.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert mock.call_count == 2


def test_file_keys_are_reread_on_an_unknown_kid(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "k.json"
    path.write_text(json.dumps(jwks(public_jwk(signer.keys.ec384, "a", "ES384"))))
    clock = FakeClock()
    source = KeySource(path, session=requests.Session(), timeout=1, max_age=1, refresh_interval=30, monotonic=clock)
    path.write_text(json.dumps(jwks(public_jwk(signer.keys.other384, "b", "ES384"))))
    assert source.get("b") is None
    clock.now += 31
    assert source.get("b") is not None


def test_parse_keeps_only_signature_keys(signer: Signer) -> None:
    private = ec.generate_private_key(ec.SECP384R1())
    from jwt.algorithms import ECAlgorithm

    private_jwk = ECAlgorithm.to_jwk(private, as_dict=True) | {"kid": "priv"}
    keys = parse_jwks(jwks(
        public_jwk(signer.keys.ec384, "sig", "ES384"),
        public_jwk(signer.keys.ec384, "enc", "ES384") | {"use": "enc"},
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        public_jwk(signer.keys.ec384, "", "ES384"),
        {"kty": "EC", "kid": "broken", "crv": "P-384", "x": "AA", "y": "AA"},
        private_jwk,
    ))
    assert set(keys) == {"sig", "priv"}
    assert isinstance(keys["priv"].key, ec.EllipticCurvePublicKey)  # the private part is dropped
    with pytest.raises(JwksError):
        parse_jwks({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]})
    with pytest.raises(JwksError):
        parse_jwks([])


def test_shipped_sandbox_jwks_is_the_sandbox_key_set() -> None:
    shipped = json.loads((REPO / "deploy" / "sandbox-jwks.json").read_text())
    assert shipped == json.loads(SANDBOX_JWKS.read_text())
    assert set(parse_jwks(shipped)) == {SANDBOX_KID}


def test_sandbox_registers_as_a_client(tmp_path: Path) -> None:
    shutil.copy(SANDBOX_JWKS, tmp_path / "sandbox-jwks.json")
    (tmp_path / "clients.yaml").write_text(f"clients:\n  - issuer: {SANDBOX_ISS}\n    jwks_file: sandbox-jwks.json\n"
                                           "    jku_allowlist: [https://sandbox.cds-hooks.org/.well-known/jwks.json]\n")
    registry = load_clients(tmp_path / "clients.yaml")
    client = registry.get(SANDBOX_ISS)
    assert client is not None and client.jwks_file == (tmp_path / "sandbox-jwks.json").resolve()
    example = load_clients(REPO / "deploy" / "clients.example.yaml")
    assert example.get(SANDBOX_ISS) is not None


def test_token_with_the_sandbox_kid_but_another_key_is_rejected(
    make_app: AppFactory, tmp_path: Path, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    """No sandbox private key exists here: a token naming the sandbox kid, signed by us, must fail."""
    app = make_app(clients_file=str(REPO / "deploy" / "clients.example.yaml"))
    token = signer.token(iss=SANDBOX_ISS, kid=SANDBOX_KID, key=signer.keys.other384,
                         headers={"jku": "https://sandbox.cds-hooks.org/.well-known/jwks.json"})
    response = app.test_client().get("/cds-services", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    reasons = [r.__dict__.get("reason") for r in caplog.records if r.__dict__.get("event") == "auth"]
    assert "signature invalid" in reasons
