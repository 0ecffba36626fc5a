"""`cdshooks serve` with a clients file: gunicorn, two workers sharing the replay cache through the database."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import BIN, _start, _stop, free_port
from tests.security.conftest import Keys, Signer, jwks, public_jwk

pytestmark = pytest.mark.integration


@pytest.fixture
def served_with_clients(tmp_path: Path, keys: Keys) -> Iterator[str]:
    executable = BIN / "cdshooks"
    if not executable.exists():
        pytest.skip(f"the project is not installed in this interpreter's environment ({executable} missing)")
    (tmp_path / "k.json").write_text(json.dumps(jwks(public_jwk(keys.ec384, "ec-1", "ES384"))))
    (tmp_path / "clients.yaml").write_text("clients:\n  - issuer: https://ehr.example.org\n    jwks_file: k.json\n")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
    env |= {"CDSHOOKS_DATABASE_URL": f"sqlite:///{tmp_path}/s.db", "CDSHOOKS_PUBLIC_BASE_URL": base_url,
            "CDSHOOKS_CLIENTS_FILE": str(tmp_path / "clients.yaml")}
    process = _start([str(executable), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
                     tmp_path, env, f"{base_url}/healthz", "cdshooks serve")
    try:
        yield base_url
    finally:
        _stop(process)


def test_served_service_requires_a_token_and_refuses_replays(served_with_clients: str, keys: Keys) -> None:
    base = served_with_clients
    signer = Signer(keys)
    refused = requests.get(f"{base}/cds-services", timeout=5)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    token = signer.token(aud=f"{base}/cds-services")
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{base}/cds-services", headers=headers, timeout=5).status_code == 200
    for _ in range(8):  # new connections: spread over both workers
        assert requests.get(f"{base}/cds-services", headers=headers, timeout=5).status_code == 401
    assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
