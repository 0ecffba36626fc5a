"""Our own service under gunicorn with client authentication on, set up the way an operator would for the kit:
the kit's key registered (JWK set published by the kit at a fixed stub port, allowed as `jku`), the kit's
FHIR stub registered as the client's FHIR server, the kit's origin allowed by CORS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cdshooks.replay import TokenSigner
from tests.integration.conftest import BIN, _start, _stop, free_port

ISSUER = "https://kit-client.example.org"
KID = "kit-es384"
ORIGIN = "https://sandbox.cds-hooks.org"


@dataclass(frozen=True)
class Served:
    base_url: str
    stub_port: int
    signer: TokenSigner  # ES384, jku published by the kit on its stub


@pytest.fixture(scope="module")
def served_for_kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    executable = BIN / "cdshooks"
    if not executable.exists():
        pytest.skip(f"the project is not installed in this interpreter's environment ({executable} missing)")
    folder: Path = tmp_path_factory.mktemp("kit-served")
    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    stub_port = free_port()
    stub = f"http://127.0.0.1:{stub_port}"
    (folder / "clients.yaml").write_text(f"""clients:
  - issuer: {ISSUER}
    jwks_url: {stub}/.well-known/jwks.json
    jku_allowlist: [{stub}/.well-known/jwks.json]
    fhir_servers: [{stub}/fhir]
    allow_http_fhir: true
""")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
    env |= {"CDSHOOKS_DATABASE_URL": f"sqlite:///{folder}/s.db", "CDSHOOKS_PUBLIC_BASE_URL": base_url,
            "CDSHOOKS_CLIENTS_FILE": str(folder / "clients.yaml"), "CDSHOOKS_CORS_ORIGINS": ORIGIN,
            "CDSHOOKS_DISCOVERY_VERSION": "STU2"}
    process = _start([str(executable), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
                     folder, env, f"{base_url}/healthz", "cdshooks serve")
    try:
        yield Served(base_url, stub_port, TokenSigner(pem, ISSUER, KID, "ES384", jku="kit"))
    finally:
        _stop(process)
