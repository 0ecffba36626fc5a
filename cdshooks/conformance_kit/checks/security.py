"""TLS, CORS and client authentication (the JWT checks run only when the operator says the service requires
authentication: `--auth-required` with a signing key)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import ssl
import time
import warnings
from collections.abc import Callable
from urllib.parse import urlsplit

from cdshooks.conformance_kit.client import Exchange
from cdshooks.conformance_kit.context import Context, check
from cdshooks.conformance_kit.hook_requests import context_for, full_prefetch, hook_request, patient_id
from cdshooks.conformance_kit.requirements import R
from cdshooks.conformance_kit.results import Status
from cdshooks.settings import is_loopback_host

AUD, EXP, JTI = R("#trusting-cds-clients.aud"), R("#trusting-cds-clients.exp"), R("#trusting-cds-clients.jti")
JWT_RULES = (R(176), R(201), R(203), R(205), AUD, EXP, JTI)
WRONG_AUDIENCE = "https://not-this-service.invalid/cds-services"
Send = Callable[..., Exchange]


@check(R(168))
def tls(ctx: Context) -> None:
    parts = urlsplit(ctx.client.base_url)
    if parts.scheme != "https":
        if is_loopback_host(parts.hostname):
            ctx.record(R(168), Status.NA, "plain http on loopback (a local test set-up); production needs https")
        else:
            ctx.record(R(168), Status.FAIL, f"{ctx.client.base_url} is plain http")
        return
    host, port = parts.hostname or "", parts.port or 443
    context = ssl.create_default_context()
    if not ctx.client.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=ctx.client.timeout) as sock, \
                context.wrap_socket(sock, server_hostname=host) as connection:
            version = connection.version() or "unknown"
    except (OSError, ssl.SSLError) as exc:
        ctx.record(R(168), Status.FAIL, f"TLS handshake with {host}:{port} failed: {type(exc).__name__}: {exc}")
        return
    status = Status.PASS if version in ("TLSv1.2", "TLSv1.3") else Status.FAIL
    ctx.record(R(168), status, f"{host}:{port} negotiated {version}")
    if _accepts_tls_1_1(host, port, ctx.client.timeout):
        ctx.record(R(168), Status.FAIL, f"{host}:{port} still accepts TLS 1.1")


def _accepts_tls_1_1(host: str, port: int, timeout: float) -> bool:
    """Whether a TLS 1.1-at-most handshake succeeds (False too when this machine cannot offer TLS 1.1)."""
    try:
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.check_hostname = False
        old.verify_mode = ssl.CERT_NONE
        with warnings.catch_warnings():  # asking for the deprecated version is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("ALL:@SECLEVEL=0")
        with socket.create_connection((host, port), timeout=timeout) as sock, \
                old.wrap_socket(sock, server_hostname=host):
            return True
    except (OSError, ssl.SSLError, ValueError):
        return False


@check(R(208))
def cors(ctx: Context) -> None:
    targets = [("/cds-services", "GET")] + [(s.path, "POST") for s in ctx.services[:1]]
    for path, method in targets:
        exchange = ctx.client.call("OPTIONS", path, signed=False, headers={
            "Origin": ctx.origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type"})
        problems = []
        if exchange.status is None or not 200 <= exchange.status < 300:
            problems.append("the preflight was not answered 2xx")
        origin = exchange.headers.get("Access-Control-Allow-Origin")
        if origin not in (ctx.origin, "*"):
            problems.append(f"Access-Control-Allow-Origin is {origin!r}")
        headers = {h.strip().lower() for h in exchange.headers.get("Access-Control-Allow-Headers", "").split(",")}
        if "authorization" not in headers:
            problems.append("Access-Control-Allow-Headers does not name Authorization (`*` does not cover it)")
        methods = {m.strip().upper() for m in exchange.headers.get("Access-Control-Allow-Methods", "").split(",")}
        if methods != {""} and method not in methods and "*" not in methods:
            problems.append(f"Access-Control-Allow-Methods does not allow {method}")
        what = f"preflight {method} {path} from {ctx.origin} with Authorization"
        if problems:
            ctx.record(R(208), Status.FAIL, f"{what}: {'; '.join(problems)}", exchange)
        else:
            ctx.record(R(208), Status.PASS, f"{what}: allowed", exchange)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _compact(header: dict[str, str], payload: dict[str, object], key: bytes | None) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest() if key is not None else b""
    return f"{signing_input}.{_b64(signature)}"


def _public_pem(key_pem: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(key_pem, password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def _accepted(exchange: Exchange) -> bool:
    return exchange.status is not None and 200 <= exchange.status < 300


def _refused(exchange: Exchange) -> bool:
    return exchange.status in (401, 403)


def _target(ctx: Context) -> tuple[str, Send] | None:
    """The endpoint to probe: discovery when it requires a token, else the first service."""
    probe = ctx.client.get("/cds-services", signed=False)
    if _refused(probe):
        return "/cds-services", lambda **kw: ctx.client.get("/cds-services", **kw)
    if not ctx.services:
        return None
    service = ctx.services[0]
    patient = patient_id("auth")
    prefetch = full_prefetch(service.prefetch, context_for(service.hook, patient))
    return service.path, lambda **kw: ctx.client.post(service.path, hook_request(service.hook, patient,
                                                                                  prefetch=prefetch), **kw)


def _refusal(ctx: Context, rid: str, exchange: Exchange, what: str) -> None:
    if _refused(exchange):
        ctx.record(rid, Status.PASS, f"{what}: refused", exchange)
    else:
        ctx.record(rid, Status.FAIL, f"{what}: not refused (401 or 403 expected)", exchange)


@check(R(176))
def authentication(ctx: Context) -> None:
    signer = ctx.client.signer
    if not ctx.auth_required or signer is None:
        for rid in JWT_RULES:
            ctx.record(rid, Status.NA, "authentication checks run with --auth-required and --jwt-key")
        return
    found = _target(ctx)
    if found is None:
        for rid in JWT_RULES:
            ctx.record(rid, Status.NA, "no endpoint to probe: discovery is open and lists no service")
        return
    path, send = found
    _refusal(ctx, R(176), send(signed=False), f"{path} without a token")
    good = send(signed=True)
    if not _accepted(good):
        ctx.record(R(176), Status.FAIL, f"{path} with the kit's correctly signed token: refused (is the key "
                   "registered, and --audience the service's public base URL?)", good)
        for rid in JWT_RULES[1:]:
            ctx.record(rid, Status.NA, "inconclusive: the kit's valid token was refused")
        return
    ctx.record(R(176), Status.PASS, f"{path} with a signed {signer.algorithm} token: accepted", good)
    if signer.algorithm in ("ES384", "RS384"):
        ctx.record(R(205), Status.PASS, f"{signer.algorithm} accepted", good)
    else:
        ctx.record(R(205), Status.NA, f"the kit signed with {signer.algorithm}")
    base = ctx.client.base_url
    payload = signer.claims(base, path)
    _refusal(ctx, R(201), send(token=_compact({"alg": "none", "typ": "JWT", "kid": signer.kid}, payload, None)),
             f"{path} with alg none")
    hmac_token = _compact({"alg": "HS256", "typ": "JWT", "kid": signer.kid}, signer.claims(base, path),
                          _public_pem(signer.key_pem))
    _refusal(ctx, R(203), send(token=hmac_token), f"{path} with HS256 keyed by the client's public key")
    _refusal(ctx, AUD, send(token=signer.token(base, path, aud=WRONG_AUDIENCE)), f"{path} with aud {WRONG_AUDIENCE}")
    now = int(time.time())
    _refusal(ctx, EXP, send(token=signer.token(base, path, iat=now - 900, exp=now - 600)),
             f"{path} with a token expired 10 minutes ago")
    token = signer.token(base, path)
    first = send(token=token)
    if not _accepted(first):
        ctx.record(JTI, Status.NA, "inconclusive: a fresh token was refused", first)
        return
    _refusal(ctx, JTI, send(token=token), f"{path} with a token already used once")
