"""Flask app factory and the per-app runtime (settings, clock, store, FHIR session, worker pool)."""

from __future__ import annotations

import atexit
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor

import requests
from flask import Flask
from flask_cors import CORS

from cdshooks import logs
from cdshooks.catalog.loader import default_catalog
from cdshooks.catalog.orders import procedure_codes
from cdshooks.catalog.ratings import rating_actions
from cdshooks.catalog.render import CardRenderer
from cdshooks.clinical.knowledge import default_knowledge, load_knowledge
from cdshooks.fhir.allowlist import FhirServerPolicy
from cdshooks.fhir.client import new_session
from cdshooks.http import discovery, feedback, health, services
from cdshooks.http.errors import register_error_handlers
from cdshooks.runtime import Clock, Runtime, system_clock
from cdshooks.settings import Settings
from cdshooks.store.store import Store

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    session: requests.Session | None = None,
) -> Flask:
    """Build the service. `settings` default to the `CDSHOOKS_*` environment; `clock` to UTC now."""
    settings = settings or Settings.from_env()
    logs.configure(settings.log_level)
    key = settings.pseudonym_key.encode() if settings.pseudonym_key else secrets.token_bytes(32)
    store = Store(settings.database_url, key)
    store.create_schema()
    knowledge = load_knowledge(settings.knowledge_dir) if settings.knowledge_dir else default_knowledge()
    rt = Runtime(
        settings=settings,
        clock=clock or system_clock,
        store=store,
        session=session or new_session(pool_size=settings.fhir_concurrency * 4),
        executor=ThreadPoolExecutor(max_workers=settings.fhir_concurrency * 4, thread_name_prefix="fhir"),
        policy=FhirServerPolicy.of(settings.fhir_allowlist),
        knowledge=knowledge,
        render=CardRenderer(default_catalog(), procedure_codes(knowledge)),
        rate=rating_actions,
    )
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["cdshooks"] = rt
    CORS(
        app,
        origins=list(settings.cors_origins),
        allow_headers=["Authorization", "Content-Type"],
        methods=["GET", "POST", "OPTIONS"],
        supports_credentials=False,
        max_age=600,
    )
    register_error_handlers(app)
    for blueprint in (discovery.bp, services.bp, feedback.bp, health.bp):
        app.register_blueprint(blueprint)
    atexit.register(rt.close)
    return app
