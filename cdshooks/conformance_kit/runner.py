"""One run of the kit: start the FHIR stub, call the service area by area, fold the evidence into a report."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cdshooks.conformance_kit.checks import discovery, feedback, invocation, prefetch, security
from cdshooks.conformance_kit.client import ServiceClient
from cdshooks.conformance_kit.context import Check, Context, run_guarded
from cdshooks.conformance_kit.results import Recorder, Report
from cdshooks.conformance_kit.stub import FhirStub
from cdshooks.replay import TokenSigner
from cdshooks.settings import is_loopback_host

KIT_JKU = "kit"  # --jwt-jku value: the kit publishes the key's JWK set on its FHIR stub

CHECKS: tuple[Check, ...] = (
    discovery.discovery,  # first: the other checks call the services it found
    security.tls,
    security.cors,
    security.authentication,
    invocation.invocation,
    invocation.malformed,
    prefetch.missing_data,
    prefetch.absent_keys,
    prefetch.null_values,
    prefetch.operation_outcomes,
    prefetch.pagination,
    invocation.fixtures,
    feedback.feedback,
)


@dataclass(frozen=True)
class Options:
    base_url: str
    spec: str = "2.0"
    signer: TokenSigner | None = None
    auth_required: bool = False
    fixtures: tuple[Path, ...] = ()
    origin: str = "https://sandbox.cds-hooks.org"
    stub_host: str = "127.0.0.1"
    stub_port: int = 0
    stub_reachable: bool | None = None  # None: assume so when the service runs on loopback too
    timeout: float = 10.0
    max_seconds: float = 300.0
    verify_tls: bool = True


def public_jwks(signer: TokenSigner) -> dict[str, Any]:
    """The JWK set holding the public half of the signer's key."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    key = load_pem_private_key(signer.key_pem, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    elif isinstance(key, rsa.RSAPrivateKey):
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        raise ValueError("the signing key must be an EC or RSA key")
    return {"keys": [jwk | {"kid": signer.kid, "alg": signer.algorithm, "use": "sig"}]}


def run(options: Options) -> Report:
    started = time.monotonic()
    recorder = Recorder(options.spec)
    signer = options.signer
    publish = signer is not None and signer.jku == KIT_JKU
    jwks = public_jwks(signer) if publish and signer is not None else None
    with FhirStub(options.stub_host, options.stub_port, jwks=jwks) as stub:
        if publish and signer is not None:
            signer = replace(signer, jku=stub.jwks_url)
        client = ServiceClient(options.base_url, signer=signer, timeout=options.timeout,
                               deadline=started + options.max_seconds, verify_tls=options.verify_tls)
        reachable = options.stub_reachable
        if reachable is None:
            reachable = is_loopback_host(urlsplit(options.base_url).hostname) or not is_loopback_host(options.stub_host)
        ctx = Context(client, recorder, options.spec, stub, reachable, options.auth_required, options.origin,
                      list(options.fixtures))
        try:
            for function in CHECKS:
                run_guarded(function, ctx)
        finally:
            client.close()
    if time.monotonic() - started > options.max_seconds:
        recorder.notes.append(f"the run reached its time budget ({options.max_seconds:g} s): later calls were not "
                              "made and their requirements may show as not applicable")
    return recorder.report(options.base_url, time.monotonic() - started)
