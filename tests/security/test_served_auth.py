"""`cdshooks serve` with a clients file: gunicorn, two workers sharing the replay cache through the database."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import BIN, COMMAND_SECONDS, _start, _stop, free_port
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
    refused = requests.get(f"{base}/cds-services", timeout=30)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    token = signer.token(aud=f"{base}/cds-services")
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{base}/cds-services", headers=headers, timeout=30).status_code == 200
    for _ in range(8):  # new connections: spread over both workers
        assert requests.get(f"{base}/cds-services", headers=headers, timeout=30).status_code == 401
    assert requests.get(f"{base}/healthz", timeout=30).status_code == 200


def test_replay_signs_client_tokens_for_an_authenticating_service(served_with_clients: str, keys: Keys,
                                                                  tmp_path: Path) -> None:
    import subprocess

    from cryptography.hazmat.primitives import serialization

    from tests.conftest import REPO
    from tests.integration.conftest import BIN

    pem = tmp_path / "client.pem"
    pem.write_bytes(keys.ec384.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    starter = str(REPO / "fixtures" / "starter")
    command = [str(BIN / "cdshooks"), "replay", "--url", served_with_clients, starter]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_SECONDS)
    assert refused.returncode == 1 and "HTTP 401" in refused.stdout
    signed = subprocess.run([*command, "--jwt-key", str(pem), "--jwt-issuer", "https://ehr.example.org",
                             "--jwt-kid", "ec-1"], capture_output=True, text=True, timeout=COMMAND_SECONDS)
    assert signed.returncode == 0, signed.stdout + signed.stderr
    assert "4 fixtures, 0 with problems" in signed.stdout
