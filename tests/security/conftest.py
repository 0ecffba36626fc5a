"""Authenticated apps for the security tests: keys made here, a clients file, and a token factory."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from cdshooks import create_app
from cdshooks.settings import Settings
from tests.conftest import NOW

BASE = "https://cds.example.org"
DISCOVERY = f"{BASE}/cds-services"
ISS = "https://ehr.example.org"  # keys in a file: ec-1 (ES384), rsa-1 (RS384), ec256-1 (ES256)
TENANT_ISS = "https://tenant-ehr.example.org"  # tenants [org-1, org-2]
URL_ISS = "https://url-ehr.example.org"  # keys from jwks_url, jku allowlist
DEV_ISS = "https://dev-ehr.example.org"  # allow_http_fhir
EHR_FHIR = "https://ehr.example.org/fhir"
DEV_FHIR = "http://dev-ehr.example.org/fhir"
JWKS_URL = "https://keys.example.org/jwks.json"
JKU_URL = "https://keys.example.org/rotated.json"


@dataclass(frozen=True)
class Keys:
    ec384: ec.EllipticCurvePrivateKey
    rsa: rsa.RSAPrivateKey
    ec256: ec.EllipticCurvePrivateKey
    other384: ec.EllipticCurvePrivateKey  # registered nowhere
    url384: ec.EllipticCurvePrivateKey  # served at JWKS_URL as url-1
    jku384: ec.EllipticCurvePrivateKey  # served at JKU_URL as jku-1


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(
        ec384=ec.generate_private_key(ec.SECP384R1()),
        rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec256=ec.generate_private_key(ec.SECP256R1()),
        other384=ec.generate_private_key(ec.SECP384R1()),
        url384=ec.generate_private_key(ec.SECP384R1()),
        jku384=ec.generate_private_key(ec.SECP384R1()),
    )


def public_jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = ECAlgorithm if isinstance(key, ec.EllipticCurvePrivateKey) else RSAAlgorithm
    jwk: dict[str, Any] = algorithm.to_jwk(key.public_key(), as_dict=True)  # type: ignore[attr-defined]
    return jwk | {"kid": kid, "alg": alg, "use": "sig"}


def jwks(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"keys": list(entries)}


@pytest.fixture
def clients_file(tmp_path: Path, keys: Keys) -> Path:
    folder = tmp_path / "clients"
    (folder / "keys").mkdir(parents=True)
    (folder / "keys" / "ehr.json").write_text(json.dumps(jwks(
        public_jwk(keys.ec384, "ec-1", "ES384"), public_jwk(keys.rsa, "rsa-1", "RS384"),
        public_jwk(keys.ec256, "ec256-1", "ES256"))))
    (folder / "keys" / "dev.json").write_text(json.dumps(jwks(public_jwk(keys.ec384, "ec-1", "ES384"))))
    path = folder / "clients.yaml"
    path.write_text(f"""
clients:
  - issuer: {ISS}
    jwks_file: keys/ehr.json
    fhir_servers: [{EHR_FHIR}]
  - issuer: {TENANT_ISS}
    jwks_file: keys/ehr.json
    tenants: [org-1, org-2]
  - issuer: {URL_ISS}
    jwks_url: {JWKS_URL}
    jku_allowlist: [{JKU_URL}]
  - issuer: {DEV_ISS}
    jwks_file: keys/dev.json
    fhir_servers: [{DEV_FHIR}]
    allow_http_fhir: true
""")
    return path


def auth_settings(tmp_path: Path, clients: Path, **overrides: Any) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path}/auth.db", public_base_url=BASE, clients_file=str(clients),
                    log_level="DEBUG", fhir_budget=2.0, fhir_timeout=0.5,
                    cors_origins=("https://sandbox.cds-hooks.org",)).with_overrides(**overrides)


AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(tmp_path: Path, clients_file: Path) -> Iterator[AppFactory]:
    apps: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        app = create_app(auth_settings(tmp_path, clients_file, **overrides), clock=lambda: NOW)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["cdshooks"].close()


@pytest.fixture
def auth_app(make_app: AppFactory) -> Flask:
    return make_app()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(aud: str | list[str] = DISCOVERY, iss: str = ISS, lifetime: int = 300, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    payload: dict[str, Any] = {"iss": iss, "aud": aud, "exp": now + lifetime, "iat": now, "jti": str(uuid.uuid4())}
    payload.update(extra)
    return {k: v for k, v in payload.items() if v is not None}


class Signer:
    """Tokens signed with the test keys; `headers` entries set to None are left out."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    def token(
        self,
        path: str = "/cds-services",
        *,
        key: Any = None,
        alg: str = "ES384",
        kid: str | None = "ec-1",
        headers: dict[str, Any] | None = None,
        **claim_overrides: Any,
    ) -> str:
        """A token for BASE + path; `headers={"typ": ""}` leaves typ out, `kid=None` leaves kid out."""
        payload = claims(aud=claim_overrides.pop("aud", BASE + path), **claim_overrides)
        header: dict[str, Any] = {"typ": "JWT"} | ({"kid": kid} if kid is not None else {}) | (headers or {})
        token: str = jwt.encode(payload, key if key is not None else self.keys.ec384, algorithm=alg, headers=header)
        return token

    @staticmethod
    def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
        head = b64(json.dumps(header).encode())
        body = b64(json.dumps(payload).encode())
        return f"{head}.{body}.{b64(signature)}"

    def bearer(self, path: str = "/cds-services", **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(path, **kw)}"}


@pytest.fixture
def signer(keys: Keys) -> Signer:
    return Signer(keys)
