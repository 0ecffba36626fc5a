"""Flask app factory and the per-app runtime (settings, clock, store, FHIR session, worker pool)."""

from __future__ import annotations

import atexit
import logging
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests
from flask import Flask, Request, Response, request
from flask_cors import CORS
from flask_cors.core import ACL_ORIGIN, ACL_REQUEST_HEADER_PRIVATE_NETWORK, FLASK_CORS_EVALUATED
from werkzeug.datastructures import Headers

from cdshooks import logs
from cdshooks.auth.clients import ClientRegistry, load_clients
from cdshooks.auth.jwks import KeyStore
from cdshooks.auth.jwt_check import JwtVerifier
from cdshooks.fhir.allowlist import FhirServerPolicy
from cdshooks.fhir.assemble import HostGates
from cdshooks.fhir.client import new_session
from cdshooks.governance.knowledge_set import load_knowledge_set
from cdshooks.governance.repeats import RepeatGuard
from cdshooks.http import analytics, auth, discovery, feedback, health, services
from cdshooks.http.errors import register_error_handlers
from cdshooks.runtime import Clock, Runtime, system_clock
from cdshooks.settings import Settings
from cdshooks.store.replay_cache import RedisReplayCache, ReplayCache, SqlReplayCache
from cdshooks.store.store import Store

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    session: requests.Session | None = None,
) -> Flask:
    """Build the service. `settings` default to the `CDSHOOKS_*` environment; `clock` to UTC now.

    Raises `ClientsError` when `CDSHOOKS_CLIENTS_FILE` (or a JWK set file it names) cannot be used, and
    `SettingsError` when CDSHOOKS_SILENT_TOPICS names a topic no rule emits.
    """
    settings = settings or Settings.from_env()
    logs.configure(settings.log_level)
    registry = load_clients(settings.clients_file) if settings.clients_file else ClientRegistry()
    key = settings.pseudonym_key.encode() if settings.pseudonym_key else secrets.token_bytes(32)
    store = Store(settings.database_url, key, keep_comments=settings.store_user_comments)
    store.create_schema()
    if settings.allow_unauthenticated:
        log.warning("development mode: client authentication is off; fhirServer limited to CDSHOOKS_FHIR_ALLOWLIST",
                    extra={"event": "auth"})
    try:
        verifier = None if settings.allow_unauthenticated else _verifier(settings, registry, store)
    except BaseException:
        store.close()
        raise
    loaded = load_knowledge_set(settings.knowledge_dir or None)
    repeats = RepeatGuard(store, timedelta(days=settings.repeat_window_days)) if settings.repeat_window_days else None
    if repeats is not None and store.engine.dialect.name == "sqlite":
        log.warning("no-repeat alerts read a SQLite store: replicas with their own file do not see each other's "
                    "overrides", extra={"event": "config"})
    rt = Runtime(
        settings=settings,
        clock=clock or system_clock,
        store=store,
        session=session or new_session(pool_size=settings.fhir_concurrency * 4),
        executor=ThreadPoolExecutor(max_workers=settings.fhir_concurrency * 4, thread_name_prefix="fhir"),
        policy=FhirServerPolicy.of(settings.fhir_allowlist),
        knowledge=loaded.knowledge,
        render=loaded.render,
        auth=verifier,
        host_gates=HostGates(settings.fhir_concurrency * 2),
        knowledge_version=loaded.version,
        silent_topics=loaded.silent(settings.silent_topics),
        repeats=repeats,
    )
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["cdshooks"] = rt
    CORS(
        app,
        origins=cors_origins(settings),
        allow_headers=["Authorization", "Content-Type"],
        methods=["GET", "POST", "OPTIONS"],
        supports_credentials=False,
        max_age=600,
    )
    remember_plain_cors(app)
    register_error_handlers(app)
    app.after_request(security_headers)
    auth.install(app)
    for blueprint in (discovery.bp, services.bp, feedback.bp, health.bp, analytics.bp):
        app.register_blueprint(blueprint)
    atexit.register(rt.close)
    return app


def cors_origins(settings: Settings) -> list[str]:
    """Origins allowed by CORS. `*` is the development default only: with client authentication on, a
    browser origin must be listed (CDSHOOKS_CORS_ORIGINS), and `null` (sandboxed pages, files) never is."""
    origins = [o for o in settings.cors_origins if o.lower() != "null"]
    if origins == ["*"] and not settings.allow_unauthenticated:
        log.warning("CORS is off: list the browser origins allowed to call (CDSHOOKS_CORS_ORIGINS), e.g. "
                    "https://sandbox.cds-hooks.org", extra={"event": "config"})
        return []
    return origins


def security_headers(response: Response) -> Response:
    """No MIME sniffing anywhere; clinical answers and analytics are never cached; HSTS over TLS."""
    req: Request = request._get_current_object()  # type: ignore[attr-defined]  # (one context lookup, not five)
    headers = response.headers
    if not has_header(headers, "x-content-type-options"):  # Headers.setdefault, without its KeyError when absent
        headers.add("X-Content-Type-Options", "nosniff")
    if req.method == "POST" or req.path.startswith("/analytics"):
        headers["Cache-Control"] = "no-store"
    # the X-Forwarded-Proto request header, read from the WSGI environ as werkzeug's EnvironHeaders reads it
    secure = req.is_secure or req.environ.get("HTTP_X_FORWARDED_PROTO", "").lower() == "https"
    if secure and not has_header(headers, "strict-transport-security"):
        headers.add("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def has_header(headers: Headers, lowered: str) -> bool:
    """Whether a response header is present (`lowered`: its name in lower case), as `name in headers` answers; werkzeug
    raises and catches a BadRequestKeyError for every absent name, which costs more than the scan of a few headers."""
    for key, _ in headers:  # noqa: SIM110 (a loop, not any(<generator>): twice per request)
        if key.lower() == lowered:
            return True
    return False


_PRIVATE_NETWORK = "HTTP_" + ACL_REQUEST_HEADER_PRIVATE_NETWORK.upper().replace("-", "_")
_ORIGIN_LOWER = ACL_ORIGIN.lower()


class PlainCors:
    """flask_cors's after-request hook, with what it adds to a *plain* request's answer remembered per path.

    A plain request is the usual hook call: not a preflight (OPTIONS), no `Origin` (or an empty one) and no
    private-network header, answered with werkzeug `Headers` that carry no CORS header yet. For such a request
    flask_cors's headers depend only on the configuration and on which of its resources the path matches, so the
    first plain request of a path runs flask_cors itself and the headers it appended are kept; later plain requests
    of that path get the very same headers, in the same order, without flask_cors's per-request work (path
    unquoting, pattern matching, two MultiDicts). Every other request goes to flask_cors. At most `MAX_PATHS` paths
    are kept (a path is configuration-like: a route and a service id, never patient content); past that, flask_cors
    answers."""

    MAX_PATHS = 256

    def __init__(self, general: Callable[[Response], Response]) -> None:
        self.general = general
        self._added: dict[str, tuple[tuple[str, str], ...]] = {}

    def __call__(self, response: Response) -> Response:
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        environ = req.environ  # request headers as werkzeug's EnvironHeaders reads them, without its absent-key errors
        headers = response.headers
        if (req.method == "OPTIONS" or environ.get("HTTP_ORIGIN") or _PRIVATE_NETWORK in environ
                or type(headers) is not Headers or has_header(headers, _ORIGIN_LOWER)
                or hasattr(response, FLASK_CORS_EVALUATED)):
            return self.general(response)
        added = self._added.get(req.path)
        if added is None:
            before = len(headers)
            answered = self.general(response)
            if answered is response and response.headers is headers and len(self._added) < self.MAX_PATHS:
                self._added[req.path] = tuple(headers.items())[before:]  # flask_cors only appends (Headers.add)
            return answered
        for key, value in added:
            headers.add(key, value)
        return response


def remember_plain_cors(app: Flask) -> None:
    """Put `PlainCors` in place of the after-request hook `CORS(app)` has just registered (left as it is when that
    hook is not where flask_cors puts it)."""
    hooks = app.after_request_funcs.get(None, [])
    if hooks and getattr(hooks[-1], "__name__", "") == "cors_after_request":
        hooks[-1] = PlainCors(hooks[-1])  # type: ignore[arg-type]  # flask_cors's hook is synchronous


def _verifier(settings: Settings, registry: ClientRegistry, store: Store) -> JwtVerifier:
    if not len(registry):
        log.error("no CDSHOOKS_CLIENTS_FILE: every call is refused (401). Register clients, or run with "
                  "--allow-unauthenticated for local development only", extra={"event": "auth"})
    database = SqlReplayCache(store.engine)  # the fallback while Redis is out
    replay: ReplayCache = RedisReplayCache(settings.redis_url, fallback=database) if settings.redis_url else database
    keys = KeyStore(timeout=settings.jwks_timeout, max_age=settings.jwks_max_age,
                    refresh_interval=settings.jwks_refresh_interval)
    return JwtVerifier(registry, keys, replay, algorithms=settings.jwt_algorithms, leeway=settings.jwt_leeway,
                       max_lifetime=settings.jwt_max_lifetime)
