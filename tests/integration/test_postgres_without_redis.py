"""The README's documented production default: PostgreSQL store, jti replay cache in the same database, no Redis.

Served with gunicorn and real ES384 client JWTs. Every fresh token must be accepted, every replay refused
(also by the other worker), and feedback answers must count what was stored (issue 16, finding 1: the
driver's `rowcount` is -1 on psycopg, which once refused every token and reported `"stored": -1`).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from cdshooks.store.replay_cache import SqlReplayCache
from cdshooks.store.store import make_engine
from tests.integration.conftest import BIN, COMMAND_SECONDS, _start, _stop, free_port

pytestmark = pytest.mark.integration

PUBLIC = "https://cds.example.org"
ISSUER = "https://ehr.example.org"
SERVICE = "bone-mets-imaging-patient-view"


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def _token(key: ec.EllipticCurvePrivateKey, path: str, jti: str | None = None) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": PUBLIC + path, "iat": now, "exp": now + 300, "jti": jti or str(uuid.uuid4())}
    return jwt.encode(claims, key, algorithm="ES384", headers={"kid": "pg-1", "typ": "JWT"})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, postgres_url: str,
           key: ec.EllipticCurvePrivateKey) -> Iterator[str]:
    executable = BIN / "cdshooks"
    if not executable.exists():
        pytest.skip(f"the project is not installed in this environment ({executable} missing)")
    folder = tmp_path_factory.mktemp("pg-no-redis")
    jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True) | {"kid": "pg-1", "alg": "ES384"}
    (folder / "keys.json").write_text(json.dumps({"keys": [jwk]}))
    (folder / "clients.yaml").write_text(f"clients:\n  - issuer: {ISSUER}\n    jwks_file: keys.json\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
    env |= {"CDSHOOKS_DATABASE_URL": postgres_url, "CDSHOOKS_PUBLIC_BASE_URL": PUBLIC,
            "CDSHOOKS_CLIENTS_FILE": str(folder / "clients.yaml"), "CDSHOOKS_PSEUDONYM_KEY": "pg-test-key",
            "CDSHOOKS_LOG_LEVEL": "WARNING"}  # no CDSHOOKS_REDIS_URL: the jti cache is the database
    upgraded = subprocess.run([str(executable), "db", "upgrade"], env=env, capture_output=True, text=True,
                              timeout=COMMAND_SECONDS)
    assert upgraded.returncode == 0, upgraded.stderr
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = _start([str(executable), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
                      "--threads", "2"], folder, env, f"{url}/healthz", "cdshooks serve")
    try:
        yield url
    finally:
        _stop(process)


def test_fresh_tokens_are_accepted_and_replays_refused(server: str, key: ec.EllipticCurvePrivateKey) -> None:
    session = requests.Session()
    tokens = [_token(key, "/cds-services") for _ in range(10)]
    first = [session.get(f"{server}/cds-services", headers={"Authorization": f"Bearer {t}"}, timeout=30).status_code
             for t in tokens]
    assert first == [200] * 10
    again = [session.get(f"{server}/cds-services", headers={"Authorization": f"Bearer {t}"}, timeout=30).status_code
             for t in tokens]
    assert again == [401] * 10


def test_feedback_counts_stored_and_duplicates(server: str, key: ec.EllipticCurvePrivateKey) -> None:
    path = f"/cds-services/{SERVICE}/feedback"
    item = {"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": "2026-11-30T10:00:00Z",
            "overrideReason": {"reason": {"system": "https://bonemets-cds.org/fhir/CodeSystem/override-reason",
                                          "code": "clinician-judgement", "display": "Clinician judgement"}}}
    answers = []
    for _ in range(2):
        response = requests.post(f"{server}{path}", json={"feedback": [item]}, timeout=30,
                                 headers={"Authorization": f"Bearer {_token(key, path)}"})
        assert response.status_code == 200, response.text
        answers.append(response.json())
    assert answers[0]["stored"] == 1 and answers[0]["duplicates"] == 0
    assert answers[1]["stored"] == 0 and answers[1]["duplicates"] == 1


def test_sql_replay_cache_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    from cdshooks.store.schema import upgrade

    engine = make_engine(postgres_url)
    upgrade(engine)
    try:
        cache = SqlReplayCache(engine)
        now = time.time()
        assert cache.first_use(ISSUER, "a", now + 60, now) is True
        assert cache.first_use(ISSUER, "a", now + 60, now) is False
        assert cache.first_use(ISSUER, "b", now + 60, now) is True
        # an expired entry does not block a token that reuses its jti
        assert cache.first_use(ISSUER, "c", now - 5, now - 10) is True
        assert cache.first_use(ISSUER, "c", now + 60, now) is True
    finally:
        engine.dispose()
