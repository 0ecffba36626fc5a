"""Client authentication on every endpoint but the health probes and CORS preflight.

A `before_request` hook verifies the `Authorization: Bearer <JWT>` of each call against the registered
clients, with `aud` = `CDSHOOKS_PUBLIC_BASE_URL` + the path called. On success the client is `g.cds_client`
(its `fhir_servers` decide which fhirServer may be called); on failure the answer is a generic 401
OperationOutcome with `WWW-Authenticate: Bearer`, and the reason goes to the log only, never the token.
In development mode (`--allow-unauthenticated`) nothing is checked and `g.cds_client` is None.
"""

from __future__ import annotations

import logging

from flask import Flask, Request, Response, g, request

from cdshooks.auth.clients import Client
from cdshooks.auth.jwt_check import AuthError
from cdshooks.http.errors import problem
from cdshooks.runtime import runtime
from cdshooks.store.replay_cache import ReplayCacheUnavailable

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/healthz", "/readyz"})


def install(app: Flask) -> None:
    app.before_request(authenticate)


def current_client() -> Client | None:
    """The authenticated client of this request (None in development mode)."""
    client: Client | None = g.get("cds_client")
    return client


def current_identity() -> tuple[Client | None, str | None]:
    """`(current_client(), current_tenant())` with one lookup of the request's `g`."""
    ctx_g = g._get_current_object()
    return ctx_g.get("cds_client"), ctx_g.get("cds_tenant")


def current_tenant() -> str | None:
    """The `tenant` claim of this request's client JWT, when it had one."""
    tenant: str | None = g.get("cds_tenant")
    return tenant


def unauthorized() -> Response:
    response = problem(401, "client authentication failed")
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def authenticate() -> Response | None:
    ctx_g = g._get_current_object()  # (one context lookup, not one per use)
    ctx_g.cds_client = None
    ctx_g.cds_tenant = None
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    if req.method == "OPTIONS" or req.path in OPEN_PATHS:
        return None
    rt = runtime()
    if rt.auth is None:
        return None
    audience = rt.settings.public_base_url + request.path
    try:
        verified = rt.auth.verify(request.headers.get("Authorization"), audience)
    except AuthError as exc:
        log.warning("client authentication failed", extra={
            "event": "auth", "reason": exc.reason, "issuer": exc.issuer, "method": request.method,
            "path": request.path[:200], "status": 401})
        return unauthorized()
    except ReplayCacheUnavailable as exc:
        log.error("client authentication unavailable: replay cache down", extra={
            "event": "auth", "reason": str(exc), "method": request.method, "path": request.path[:200], "status": 503})
        response = problem(503, "authentication temporarily unavailable; retry later")
        response.headers["Retry-After"] = "5"
        return response
    g.cds_client = verified.client
    g.cds_tenant = verified.tenant
    return None
